"""Stage ``report``: one table of every trained variant, plus the quarantine summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harfuse.store.atomic import atomic_path, write_text
from harfuse.store.quarantine import read_quarantine

COLUMNS = ["variant", "modalities", "split", "top1", "top5", "macro_f1", "mean_class_acc"]


def summary_table(metrics_paths: Sequence[str | Path]) -> pd.DataFrame:
    """One row per ``metrics.json``, sorted by split then descending top-1."""
    rows = []
    for path in metrics_paths:
        m = json.loads(Path(path).read_text())
        rows.append({**{k: m[k] for k in COLUMNS}, "modalities": "+".join(m["modalities"])})
    df = pd.DataFrame(rows, columns=COLUMNS)
    return df.sort_values(
        ["split", "top1", "variant"], ascending=[True, False, True], ignore_index=True
    )


#: quarantine rows shown per stage in summary.md (all of them are in quarantine.csv)
SHOWN_PER_STAGE = 20


def markdown(table: pd.DataFrame, quarantine: pd.DataFrame, notes: Sequence[str]) -> str:
    """The ``summary.md`` text."""
    head = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns) + "\n"
    body = "".join(
        "| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |\n"
        for row in table.itertuples(index=False)
    )
    lines = ["# harfuse report", "", head + body]
    lines += [f"- {n}" for n in notes]
    lines += ["", "## Quarantine", ""]
    if quarantine.empty:
        lines.append("No input was quarantined.")
    else:
        counts = quarantine.groupby("stage", sort=False).size()
        lines += [f"- {stage}: {n} samples" for stage, n in counts.items()]
        lines += ["", "| sample_id | stage | reason |", "|---|---|---|"]
        shown = quarantine.groupby("stage", sort=False).head(SHOWN_PER_STAGE)
        lines += [f"| {r.sample_id} | {r.stage} | {r.reason} |" for r in shown.itertuples()]
        if len(shown) < len(quarantine):
            lines += ["", f"{len(quarantine) - len(shown)} more rows in quarantine.csv."]
    return "\n".join(lines) + "\n"


def run(
    metrics_paths: Sequence[str | Path],
    quarantine_paths: Sequence[str | Path],
    notes: Sequence[str],
    csv_path: str | Path,
    md_path: str | Path,
    quarantine_csv: str | Path,
) -> None:
    """Write ``summary.csv``, ``summary.md`` and ``quarantine.csv`` (every quarantine row
    of every stage, without repeats: training runs report the same missing samples)."""
    table = summary_table(metrics_paths)
    with atomic_path(csv_path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    quarantine = read_quarantine(quarantine_paths).drop_duplicates(ignore_index=True)
    with atomic_path(quarantine_csv) as tmp:
        quarantine.to_csv(tmp, index=False)
    write_text(md_path, markdown(table, quarantine, notes))
