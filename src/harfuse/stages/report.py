"""Stage ``report``: every trained run in one table, the mean ± std over splits, the
hidden-class results, figures, and the quarantine summary."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harfuse import plots
from harfuse.plan import FULL
from harfuse.store.atomic import atomic_path, write_text
from harfuse.store.quarantine import read_quarantine

METRICS = ["top1", "top5", "macro_f1", "mean_class_acc"]
COLUMNS = ["variant", "modalities", "split", "experiment", *METRICS, "top1_hidden", "top1_seen"]
#: quarantine rows shown per stage in summary.md (all of them are in quarantine.csv)
SHOWN_PER_STAGE = 20


def load_runs(metrics_paths: Sequence[str | Path]) -> list[dict]:
    """Every ``metrics.json``, ``modalities`` joined with ``+``."""
    runs = []
    for path in metrics_paths:
        m = json.loads(Path(path).read_text())
        runs.append({**m, "modalities": "+".join(m["modalities"])})
    return runs


def summary_table(runs: Sequence[dict]) -> pd.DataFrame:
    """One row per run, sorted by split, experiment (``full`` first), descending top-1."""
    df = pd.DataFrame([{k: r.get(k) for k in COLUMNS} for r in runs], columns=COLUMNS)
    df[COLUMNS[4:]] = df[COLUMNS[4:]].astype(float)
    order = df["experiment"].ne(FULL)
    return (
        df.assign(_order=order)
        .sort_values(
            ["split", "_order", "experiment", "top1", "variant"],
            ascending=[True, True, True, False, True],
        )
        .drop(columns="_order")
        .reset_index(drop=True)
    )


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and std over splits per (variant, experiment): ``{metric}_mean``,
    ``{metric}_std`` (NaN with one split) and ``n_splits``."""
    keys = ["variant", "modalities", "experiment"]
    grouped = table.groupby(keys, sort=False)
    out = grouped[METRICS].agg(["mean", "std"])
    out.columns = [f"{m}_{stat}" for m, stat in out.columns]
    out["n_splits"] = grouped.size()
    return out.reset_index().sort_values(
        ["experiment", "top1_mean"], ascending=[True, False], ignore_index=True
    )


def benchmark_files(benchmark_dir: str | Path, dataset: str) -> list[Path]:
    """Snakemake ``benchmark:`` files of ``dataset``'s jobs:
    ``{benchmark_dir}/{rule}/{dataset}/...tsv`` and ``{benchmark_dir}/{rule}/{dataset}.tsv``."""
    root = Path(benchmark_dir)
    return sorted([*root.glob(f"*/{dataset}/**/*.tsv"), *root.glob(f"*/{dataset}.tsv")])


def benchmark_table(paths: Sequence[str | Path], root: str | Path) -> pd.DataFrame:
    """Per rule (the first folder under ``root``): ``jobs``, wall-clock ``total_s``,
    ``mean_s`` and ``max_s``, summed ``cpu_s``, and the largest ``max_rss_mb`` of a job."""
    rows = []
    for path in paths:
        bench = pd.read_csv(path, sep="\t").iloc[-1]  # the last repeat of the job
        rows.append(
            {
                "rule": Path(path).relative_to(root).parts[0],
                "s": float(bench["s"]),
                "cpu_s": float(pd.to_numeric(bench.get("cpu_time"), errors="coerce")),
                "max_rss_mb": float(pd.to_numeric(bench.get("max_rss"), errors="coerce")),
            }
        )
    columns = ["rule", "jobs", "total_s", "mean_s", "max_s", "cpu_s", "max_rss_mb"]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows).groupby("rule", sort=False)
    out = pd.DataFrame(
        {
            "jobs": df.size(),
            "total_s": df["s"].sum(),
            "mean_s": df["s"].mean(),
            "max_s": df["s"].max(),
            "cpu_s": df["cpu_s"].sum(min_count=1),
            "max_rss_mb": df["max_rss_mb"].max(),
        }
    )
    return out.reset_index().sort_values("total_s", ascending=False, ignore_index=True)[columns]


def _markdown_table(df: pd.DataFrame) -> list[str]:
    head = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    cell = lambda v: f"{v:.3f}" if isinstance(v, float) else ("" if v is None else str(v))  # noqa: E731
    return head + [
        "| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)
    ]


def markdown(
    table: pd.DataFrame,
    means: pd.DataFrame,
    runs: Sequence[dict],
    quarantine: pd.DataFrame,
    notes: Sequence[str],
    benchmarks: pd.DataFrame | None = None,
) -> str:
    """The ``summary.md`` text."""
    lines = ["# harfuse report", ""]
    lines += [*_markdown_table(table[COLUMNS[:8]]), ""]
    lines += [f"- {n}" for n in notes]
    lines += [
        "",
        "## Mean ± std over splits",
        "",
        "| variant | experiment | splits | " + " | ".join(METRICS) + " |",
        "|---|---|---|" + "---|" * len(METRICS),
    ]
    for r in means.itertuples(index=False):
        cells = [
            f"{getattr(r, m + '_mean'):.3f}"
            + (f" ± {getattr(r, m + '_std'):.3f}" if r.n_splits > 1 else "")
            for m in METRICS
        ]
        lines.append(f"| {r.variant} | {r.experiment} | {r.n_splits} | " + " | ".join(cells) + " |")
    hidden = [r for r in runs if "hidden_classes" in r]
    if hidden:
        lines += [
            "",
            "## Hidden classes",
            "",
            "Classes withheld from one modality's stage-1 training; stage 2 saw every class.",
            "",
            "| variant | split | experiment | hidden classes | top1 hidden | top1 seen | top1 |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['variant']} | {r['split']} | {r['experiment']} | "
            f"{', '.join(r['hidden_classes'])} | {r['top1_hidden']:.3f} | "
            f"{r['top1_seen']:.3f} | {r['top1']:.3f} |"
            for r in hidden
        ]
    if benchmarks is not None and not benchmarks.empty:
        lines += [
            "",
            "## Time and memory per stage",
            "",
            "Wall-clock seconds and peak resident memory of the jobs of each rule "
            "(Snakemake `benchmark:` files; this report's own job is not included).",
            "",
        ]
        lines += _markdown_table(benchmarks)
    environments = Counter(
        (r["environment"], r["torch_threads"]) for r in runs if "environment" in r
    )
    if environments:
        lines += [
            "",
            "## Where these figures come from",
            "",
            "Training runs by machine, library versions and torch threads. Metrics are "
            "identical for the same seed on the same machine, versions and thread count; "
            "elsewhere they may move (README, Reproducibility).",
            "",
        ]
        lines += [
            f"- {n} runs: {env}; {threads} torch thread{'s' * (threads != 1)}"
            for (env, threads), n in sorted(environments.items())
        ]
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
    classes_path: str | Path,
    notes: Sequence[str],
    out_dir: str | Path,
    benchmark_paths: Sequence[str | Path] = (),
    benchmark_root: str | Path = "logs/benchmarks",
) -> None:
    """Write under ``out_dir``: ``summary.csv`` (one row per variant, split and
    experiment), ``aggregate.csv`` (mean ± std over splits), ``summary.md``,
    ``quarantine.csv`` (every quarantine row of every stage, without repeats),
    ``benchmarks.csv`` (time and memory per rule from ``benchmark_paths``, files under
    ``benchmark_root``) and the figures ``confusion.png``, ``variants.png``,
    ``learning_curves.png``, ``ratio_sweep.png``."""
    out_dir = Path(out_dir)
    runs = load_runs(metrics_paths)
    table = summary_table(runs)
    means = aggregate(table)
    with atomic_path(out_dir / "summary.csv") as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(out_dir / "aggregate.csv") as tmp:
        means.to_csv(tmp, index=False, float_format="%.4f")
    quarantine = read_quarantine(quarantine_paths).drop_duplicates(ignore_index=True)
    with atomic_path(out_dir / "quarantine.csv") as tmp:
        quarantine.to_csv(tmp, index=False)
    benchmarks = benchmark_table(benchmark_paths, benchmark_root)
    with atomic_path(out_dir / "benchmarks.csv") as tmp:
        benchmarks.to_csv(tmp, index=False, float_format="%.2f")
    write_text(out_dir / "summary.md", markdown(table, means, runs, quarantine, notes, benchmarks))

    main = sorted(
        (r for r in runs if r["experiment"] == FULL), key=lambda r: (r["split"], r["variant"])
    )
    first_split = [r for r in main if r["split"] == main[0]["split"]] if main else []
    classes = json.loads(Path(classes_path).read_text())
    plots.confusion_matrices(first_split, classes, out_dir / "confusion.png")
    plots.variant_bars(means[means["experiment"] == FULL], out_dir / "variants.png")
    plots.learning_curves(first_split, out_dir / "learning_curves.png")
    sweep = pd.DataFrame(
        [{"variant": r["variant"], "ratio": r.get("ratio"), "top1": r["top1"]} for r in runs]
    )
    plots.ratio_sweep(sweep, out_dir / "ratio_sweep.png")
