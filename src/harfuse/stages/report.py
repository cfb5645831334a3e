"""Stage ``report``: every trained run in one table, the mean ± std over splits, the
hidden-class results, the test samples that lacked a modality, figures, and the
quarantine summary.

Top-5 accuracy is left out of the tables (``summary.csv``, ``aggregate.csv``,
``summary.md``) when the dataset has 5 classes or fewer: every label is then among the 5
highest scores, so top-5 is 1 by construction. ``metrics.json`` keeps it."""

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
from harfuse.train.metrics import METRICS, shown_metrics

#: per run, test samples evaluated (``n_test``), the split's test samples left out for
#: lacking a modality (``n_test_dropped``) and, for variants with audio, the evaluated ones
#: with no audio track, read as silence (``n_test_no_audio``); from ``metrics.json``
TEST_COUNTS = ["n_test", "n_test_dropped", "n_test_no_audio"]
#: every column ``summary.csv`` can have (``top5`` only with more than 5 classes)
COLUMNS = [
    "variant",
    "modalities",
    "split",
    "experiment",
    *METRICS,
    "top1_hidden",
    "top1_seen",
    *TEST_COUNTS,
]
#: quarantine rows shown per stage in summary.md (all of them are in quarantine.csv)
SHOWN_PER_STAGE = 20


def load_runs(metrics_paths: Sequence[str | Path]) -> list[dict]:
    """Every ``metrics.json``, ``modalities`` joined with ``+``."""
    runs = []
    for path in metrics_paths:
        m = json.loads(Path(path).read_text())
        runs.append({**m, "modalities": "+".join(m["modalities"])})
    return runs


def run_counts(run: dict) -> dict[str, int | None]:
    """:data:`TEST_COUNTS` of one run's metrics (None where it does not record them;
    ``n_test_no_audio`` None for variants without audio)."""
    audio = run.get("test_lacking", {}).get("audio", {})
    return {
        "n_test": run.get("n_test"),
        "n_test_dropped": run.get("n_test_dropped"),
        "n_test_no_audio": audio.get("no_track"),
    }


def summary_table(runs: Sequence[dict], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """One row per run (:data:`COLUMNS`, of the metrics only ``metrics``), sorted by split,
    experiment (``full`` first), descending top-1."""
    columns = [c for c in COLUMNS if c not in METRICS or c in metrics]
    df = pd.DataFrame(
        [{k: {**r, **run_counts(r)}.get(k) for k in columns} for r in runs], columns=columns
    )
    scores = [*metrics, "top1_hidden", "top1_seen"]
    df[scores] = df[scores].astype(float)
    df[TEST_COUNTS] = df[TEST_COUNTS].astype("Int64")  # whole numbers; empty when unknown
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


def aggregate(table: pd.DataFrame, metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """Mean and std over splits per (variant, experiment): ``{metric}_mean``,
    ``{metric}_std`` (NaN with one split) and ``n_splits``."""
    keys = ["variant", "modalities", "experiment"]
    grouped = table.groupby(keys, sort=False)
    out = grouped[list(metrics)].agg(["mean", "std"])
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


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def samples_cell(counts: dict) -> str:
    """The ``test samples`` cell of ``summary.md``'s run table: ``10``, ``10 (3 without
    audio)``, ``10 (2 left out)``; empty when the run did not record it."""
    n, dropped, no_audio = (counts[k] for k in TEST_COUNTS)
    if pd.isna(n):
        return ""
    lacking = [
        f"{no_audio} without audio" if not pd.isna(no_audio) and no_audio else "",
        f"{dropped} left out" if not pd.isna(dropped) and dropped else "",
    ]
    lacking = [part for part in lacking if part]
    return f"{n}" + (f" ({', '.join(lacking)})" if lacking else "")


def lacking_lines(runs: Sequence[dict]) -> list[str]:
    """One line per variant, split and modality of which some test samples lacked that
    modality (the same for every experiment of a split: the first run recorded speaks);
    empty when none did."""
    seen: dict[tuple[str, str], dict] = {}
    for r in sorted(runs, key=lambda r: (r["split"], r["variant"])):
        if "test_lacking" in r:
            seen.setdefault((r["variant"], r["split"]), r)
    lines = []
    for (variant, split), r in seen.items():
        evaluated = r["n_test"]
        in_split = evaluated + r["n_test_dropped"]
        for modality, counts in sorted(r["test_lacking"].items()):
            if counts.get("no_track"):
                lines.append(
                    f"- {variant} ({split}): {counts['no_track']} of {evaluated} test samples "
                    f"had no {modality} track: evaluated on silence"
                )
            if counts.get("missing"):
                lines.append(
                    f"- {variant} ({split}): {counts['missing']} of {in_split} test samples "
                    f"had no {modality}: left out"
                )
    return lines


def markdown(
    table: pd.DataFrame,
    means: pd.DataFrame,
    runs: Sequence[dict],
    quarantine: pd.DataFrame,
    notes: Sequence[str],
    benchmarks: pd.DataFrame | None = None,
    n_classes: int | None = None,
) -> str:
    """The ``summary.md`` text (``n_classes``: the dataset's, which decides whether top-5
    is shown; :func:`shown_metrics`)."""
    metrics = shown_metrics(n_classes)
    lines = ["# harfuse report", ""]
    shown = table[["variant", "modalities", "split", "experiment", *metrics]].copy()
    shown["test samples"] = [samples_cell(c) for c in table[TEST_COUNTS].to_dict("records")]
    lines += [*_markdown_table(shown), ""]
    lines += [f"- {n}" for n in notes]
    if "top5" not in metrics:
        lines.append(
            f"- top-5 not shown: with {n_classes} classes every label is among the 5 highest "
            "scores (top-5 = 1 by construction)"
        )
    if any("test_lacking" in r for r in runs):
        lacking = lacking_lines(runs)
        lines += [
            "",
            "## Test samples lacking a modality",
            "",
            "Per variant and split (the same for every experiment of the split). *Evaluated "
            "on silence*: the clip has no audio track; the model got silent audio, the same "
            "input for every such sample. *Left out*: no entry in that modality's shards (no "
            "file, or a stage quarantined it); the sample is not in the run's test set "
            "(Quarantine, stage train).",
            "",
            *(lacking or ["Every test sample had every modality of its variant."]),
        ]
    lines += [
        "",
        "## Mean ± std over splits",
        "",
        "| variant | experiment | splits | " + " | ".join(metrics) + " |",
        "|---|---|---|" + "---|" * len(metrics),
    ]
    for r in means.itertuples(index=False):
        cells = [
            f"{getattr(r, m + '_mean'):.3f}"
            + (f" ± {getattr(r, m + '_std'):.3f}" if r.n_splits > 1 else "")
            for m in metrics
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
        # a sample has a row per stage and reason (e.g. one per modality it lacks)
        counts = quarantine.groupby("stage", sort=False)["sample_id"].agg(["nunique", "size"])
        lines.append(
            f"{_plural(quarantine['sample_id'].nunique(), 'sample')} "
            f"({_plural(len(quarantine), 'row')}) in quarantine.csv; by stage:"
        )
        lines.append("")
        lines += [
            f"- {c.Index}: {_plural(c.nunique, 'sample')} ({_plural(c.size, 'row')})"
            for c in counts.itertuples()
        ]
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
    ``learning_curves.png``, ``ratio_sweep.png``. Top-5 is left out of the tables when
    ``classes_path`` lists 5 classes or fewer."""
    out_dir = Path(out_dir)
    classes = json.loads(Path(classes_path).read_text())
    metrics = shown_metrics(len(classes))
    runs = load_runs(metrics_paths)
    table = summary_table(runs, metrics)
    means = aggregate(table, metrics)
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
    write_text(
        out_dir / "summary.md",
        markdown(table, means, runs, quarantine, notes, benchmarks, len(classes)),
    )

    main = sorted(
        (r for r in runs if r["experiment"] == FULL), key=lambda r: (r["split"], r["variant"])
    )
    first_split = [r for r in main if r["split"] == main[0]["split"]] if main else []
    plots.confusion_matrices(first_split, classes, out_dir / "confusion.png")
    plots.variant_bars(means[means["experiment"] == FULL], out_dir / "variants.png")
    plots.learning_curves(first_split, out_dir / "learning_curves.png")
    sweep = pd.DataFrame(
        [{"variant": r["variant"], "ratio": r.get("ratio"), "top1": r["top1"]} for r in runs]
    )
    plots.ratio_sweep(sweep, out_dir / "ratio_sweep.png")
