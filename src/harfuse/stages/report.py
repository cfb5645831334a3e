"""Stage ``report``: every trained run in one table, the mean ± std over splits, the
hidden-class results, the test samples that lacked a modality, figures, and the
quarantine summary.

Top-5 accuracy is left out of the tables (``summary.csv``, ``aggregate.csv``,
``summary.md``) when the dataset has 5 classes or fewer: every label is then among the 5
highest scores, so top-5 is 1 by construction. ``metrics.json`` keeps it.

Where the config has ``published.figures`` (a recipe of a published experiment),
``published.csv`` and a section of ``summary.md`` put ours beside each, with the
difference, or say why they do not compare (:func:`published_table`)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from harfuse import plots
from harfuse.plan import FULL
from harfuse.preprocess.skeleton import LOW_COVERAGE
from harfuse.store.atomic import atomic_path, write_text
from harfuse.store.manifest import read_manifest
from harfuse.store.quarantine import read_quarantine
from harfuse.store.run_dir import read_description, read_metrics
from harfuse.store.shards import ShardReader
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
    "kept_epoch",
]
#: quarantine rows shown per stage in summary.md (all of them are in quarantine.csv)
SHOWN_PER_STAGE = 20
#: columns of ``published.csv``: the figure, the ``split`` of ours (empty: the mean over
#: ``n_splits`` splits), ``published``, ``ours`` and ``difference`` (ours - published) in
#: percent / percentage points, ``not_compared``: why ours and the difference are empty
PUBLISHED_COLUMNS = [
    "variant",
    "experiment",
    "metric",
    "split",
    "n_splits",
    "published",
    "ours",
    "difference",
    "not_compared",
    "source",
]
#: the ``weights`` of a random init (config ``features.sets.*.weights``; a variant's
#: ``options.backbone.weights``, its default)
RANDOM_WEIGHTS = "none"


def load_runs(metrics_paths: Sequence[str | Path]) -> list[dict]:
    """Every ``metrics.json``, ``modalities`` joined with ``+``."""
    runs = []
    for path in metrics_paths:
        m = read_metrics(path)
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


def kept_epoch(run: dict) -> str:
    """The epoch whose weights each training phase kept, of those it ran (early stopping
    may end a phase before ``epochs``): ``"8/12"``, or ``"stage1 8/12, stage2 3/5"`` for
    several phases; empty when the run did not record it."""
    history = pd.DataFrame(run.get("history") or [])
    if "kept" not in history:
        return ""
    cells = [
        f"{rows.loc[rows['kept'].astype(bool), 'epoch'].max()}/{len(rows)}"
        for _, rows in history.groupby("phase", sort=False)
    ]
    phases = history["phase"].unique()
    if len(phases) == 1:
        return cells[0]
    return ", ".join(f"{phase} {cell}" for phase, cell in zip(phases, cells, strict=True))


def one_class_lines(runs: Sequence[dict]) -> list[str]:
    """One line (in red) per run whose model predicts the same class for every test
    sample (``metrics.json``'s ``predicts_one_class``)."""
    return [
        f'- <span style="color:red">{r["variant"]} ({r["split"]}, {r["experiment"]}) '
        f"predicts one class, {r['predicts_one_class']}, for all {r.get('n_test', '')} test "
        "samples: it learnt nothing that separates the classes (too few epochs or samples, "
        "or a learning rate off)</span>"
        for r in sorted(runs, key=lambda r: (r["split"], r["variant"], r["experiment"]))
        if r.get("predicts_one_class")
    ]


def summary_table(runs: Sequence[dict], metrics: Sequence[str] = METRICS) -> pd.DataFrame:
    """One row per run (:data:`COLUMNS`, of the metrics only ``metrics``), sorted by split,
    experiment (``full`` first), descending top-1."""
    columns = [c for c in COLUMNS if c not in METRICS or c in metrics]
    df = pd.DataFrame(
        [
            {k: {**r, **run_counts(r), "kept_epoch": kept_epoch(r)}.get(k) for k in columns}
            for r in runs
        ],
        columns=columns,
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


def random_rgb_runs(model_paths: Sequence[str | Path]) -> dict[tuple[str, str, str], str]:
    """(variant, split, experiment) -> how its rgb came from random weights, for the runs
    whose ``model.json`` says so: the frozen features its input shards recorded
    (``preprocessing.features.weights``), or a fine-tuned backbone (``options.backbone``,
    whose ``weights`` default to ``none``) trained from a random init."""
    found = {}
    for path in model_paths:
        m = read_description(path, ("variant", "split", "experiment"))
        features = (m.get("preprocessing") or {}).get("features") or {}
        backbone = (m.get("options") or {}).get("backbone")
        key = (m["variant"], m["split"], m["experiment"]["name"])
        if backbone is not None and backbone.get("weights", RANDOM_WEIGHTS) == RANDOM_WEIGHTS:
            found[key] = "rgb backbone trained from random weights (backbone weights: none)"
        elif backbone is None and features.get("weights") == RANDOM_WEIGHTS:
            found[key] = "rgb features from random weights (weights: none, frozen)"
    return found


def dataset_mismatch(
    published: Mapping[str, Any], layout: str | None, n_classes: int, n_samples: int | None
) -> str:
    """Why no run on this dataset compares with the ``published`` figures, or ``""``: the
    demo, a class count other than ``published.classes``, fewer samples than
    ``published.min_samples`` (``n_samples`` None: not checked)."""
    if layout == "demo":
        return "the demo dataset (layout demo)"
    classes = published.get("classes")
    if classes is not None and n_classes != classes:
        return f"a dataset of {n_classes} classes, the published one has {classes}"
    least = published.get("min_samples")
    if least is not None and n_samples is not None and n_samples < least:
        return f"a dataset of {n_samples} samples, fewer than the published {least}"
    return ""


def published_table(
    figures: Sequence[Mapping[str, Any]],
    runs: Sequence[dict],
    random_rgb: Mapping[tuple[str, str, str], str],
    mismatch: str = "",
    skipped: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """One row per published figure (:data:`PUBLISHED_COLUMNS`, the config's order): ours
    is the variant's run on the figure's split, else the mean over its runs' splits, as a
    percent. Not compared (``not_compared`` says why; ours and the difference empty): the
    whole dataset (``mismatch``, :func:`dataset_mismatch`), a variant with no run
    (``skipped``: variant -> why the workflow skipped it), or one whose rgb features came
    from random weights (``random_rgb``: :func:`random_rgb_runs`)."""
    skipped = skipped or {}
    rows = []
    for fig in figures:
        variant, split = fig["variant"], fig.get("split")
        experiment, metric = fig.get("experiment", FULL), fig.get("metric", "top1")
        matching = [
            r
            for r in runs
            if r["variant"] == variant
            and r["experiment"] == experiment
            and split in (None, r["split"])
        ]
        random_init = [
            random_rgb[key]
            for r in matching
            if (key := (variant, r["split"], experiment)) in random_rgb
        ]
        ours = 100 * float(pd.Series([r.get(metric) for r in matching], dtype=float).mean())
        if mismatch:
            why = mismatch
        elif variant in skipped:
            why = f"no run, variant {variant} {skipped[variant]}"
        elif not matching:
            why = f"no run of {variant} ({experiment})" + (f" on split {split}" if split else "")
        elif random_init:
            why = random_init[0]
        elif pd.isna(ours):
            why = f"the runs recorded no {metric}"
        else:
            why = ""
        rows.append(
            {
                "variant": variant,
                "experiment": experiment,
                "metric": metric,
                "split": matching[0]["split"] if len(matching) == 1 else split,
                "n_splits": len(matching),
                "published": float(fig["value"]),
                "ours": float("nan") if why else ours,
                "difference": float("nan") if why else ours - fig["value"],
                "not_compared": why,
                "source": fig["source"],
            }
        )
    table = pd.DataFrame(rows, columns=PUBLISHED_COLUMNS)
    return table.astype({"n_splits": int, "published": float, "ours": float, "difference": float})


def published_lines(table: pd.DataFrame) -> list[str]:
    """The ``Published figures`` section of ``summary.md`` (nothing when ``table`` is
    empty)."""
    if table.empty:
        return []
    lines = [
        "",
        "## Published figures",
        "",
        "Ours beside the figures of the works the config names (`published:`), in percent "
        "as papers print them; difference = ours - published, in percentage points. Ours: "
        "the run on the figure's split, else the mean over the variant's splits. Not "
        "compared where the dataset is not the published one (the demo, another class "
        "count, fewer samples), the variant has no run, or its rgb came from random weights.",
        "",
        "| variant | experiment | metric | split | published | ours | difference | source |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples(index=False):
        if isinstance(r.split, str):
            split = r.split
        else:
            split = f"mean of {r.n_splits} splits" if r.n_splits else ""
        ours = "" if r.not_compared else f"{r.ours:.2f}"
        diff = f"not compared: {r.not_compared}" if r.not_compared else f"{r.difference:+.2f}"
        source = r.source.replace("|", "\\|")  # a | would end the cell
        lines.append(
            f"| {r.variant} | {r.experiment} | {r.metric} | {split} | {r.published:g} | "
            f"{ours} | {diff} | {source} |"
        )
    return lines


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


def absent_class_lines(runs: Sequence[dict]) -> list[str]:
    """One line (in red) per variant and split with classes that had no test sample
    (``metrics.json``'s ``classes_without_test``), naming them and why; the first run
    recorded of a variant and split speaks."""
    seen: dict[tuple[str, str], dict] = {}
    for r in sorted(runs, key=lambda r: (r["split"], r["variant"])):
        if r.get("classes_without_test"):
            seen.setdefault((r["variant"], r["split"]), r)
    return [
        f'- <span style="color:red">{variant} ({split}): no test sample of '
        + "; ".join(f"{name} ({why})" for name, why in r["classes_without_test"].items())
        + "</span>"
        for (variant, split), r in seen.items()
    ]


def scored_note(runs: Sequence[dict], classes: Sequence[str]) -> list[str]:
    """The note saying over which classes the per-class means were computed (``classes``:
    the run's, after ``dataset.classes``; named when there are a few)."""
    scored = sorted({r["classes_scored"] for r in runs if "classes_scored" in r})
    if not scored:
        return []
    counts = " or ".join(str(k) for k in scored)
    named = f" ({', '.join(classes)})" if 0 < len(classes) <= 12 else ""
    absent = any(r.get("classes_without_test") for r in runs)
    return [
        f"macro_f1 and mean_class_acc: means over all {counts} classes of the run{named}; "
        "a class without a test sample counts 0"
        + (" (Classes without a test sample, below)" if absent else "")
    ]


def pose_coverage(
    pose_paths: Sequence[str | Path], manifest: pd.DataFrame, quarantine: pd.DataFrame
) -> pd.DataFrame:
    """Per class (labelled samples of ``manifest``): ``samples``, ``coverage`` (mean over
    them of the fraction of frames in which the pose stage found a person; a sample it
    found nobody in counts 0), ``low`` (samples under :data:`LOW_COVERAGE`, those among
    them) and ``nobody`` (samples the pose stage quarantined for it)."""
    found: dict[str, float] = {}
    for path in pose_paths:
        reader = ShardReader(path)
        try:
            for sid in reader.sample_ids():
                attrs = reader.attrs(sid, "skeleton")
                found[sid] = float(
                    attrs["coverage"]
                    if "coverage" in attrs
                    else reader.read(sid, "detected").any(axis=1).mean()
                )
        finally:
            reader.close()
    nobody = set(quarantine.loc[quarantine["stage"] == "pose", "sample_id"])
    labelled = manifest[manifest["label"] != ""]
    coverage = labelled["sample_id"].map(found).fillna(0.0)
    per_sample = pd.DataFrame(
        {
            "label": labelled["label"],
            "coverage": coverage,
            "low": coverage < LOW_COVERAGE,
            "nobody": labelled["sample_id"].isin(nobody),
        }
    )
    return (
        per_sample.groupby("label", sort=False)
        .agg(
            samples=("coverage", "size"),
            coverage=("coverage", "mean"),
            low=("low", "sum"),
            nobody=("nobody", "sum"),
        )
        .reset_index()
    )


def pose_lines(coverage: pd.DataFrame) -> list[str]:
    """``summary.md``'s pose coverage section (empty without estimated skeletons)."""
    if coverage.empty:
        return []
    lines = [
        "",
        "## Pose coverage",
        "",
        "Per class: the mean fraction of a sample's frames in which the pose estimator found "
        f"a person (a sample with nobody in any frame counts 0 and is quarantined), and the "
        f"samples under {LOW_COVERAGE:.0%} of frames. A skeleton model of a class with low "
        "coverage learns from a few frames, or not at all.",
        "",
        "| class | samples | coverage | under " + f"{LOW_COVERAGE:.0%} | nobody seen |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.label} | {r.samples} | {r.coverage:.2f} | {r.low} | {r.nobody} |"
        for r in coverage.itertuples()
    ]
    low = coverage[coverage["coverage"] < LOW_COVERAGE]
    if not low.empty:
        lines += [
            "",
            f'<span style="color:red">Pose coverage under {LOW_COVERAGE:.0%}: '
            + ", ".join(f"{r.label} ({r.coverage:.2f})" for r in low.itertuples())
            + ". The estimator sees one person, of a size it can find (README, Pose).</span>",
        ]
    return lines


def _runs_section(
    table: pd.DataFrame,
    runs: Sequence[dict],
    notes: Sequence[str],
    metrics: list[str],
    n_classes: int | None,
    classes: Sequence[str],
) -> list[str]:
    """The run table and the notes under it."""
    shown = table[["variant", "modalities", "split", "experiment", *metrics]].copy()
    shown["test samples"] = [samples_cell(c) for c in table[TEST_COUNTS].to_dict("records")]
    shown["kept epoch"] = table["kept_epoch"]
    lines = [*_markdown_table(shown), ""]
    lines += one_class_lines(runs)
    lines += [f"- {n}" for n in [*scored_note(runs, classes), *notes]]
    if table["kept_epoch"].ne("").any():
        lines.append(
            "- kept epoch: the epoch whose weights a run kept (lowest validation loss) of "
            "those it trained; 1 of several means validation loss never improved after the "
            "first"
        )
    if "top5" not in metrics:
        lines.append(
            f"- top-5 not shown: with {n_classes} classes every label is among the 5 highest "
            "scores (top-5 = 1 by construction)"
        )
    return lines


def _lacking_section(runs: Sequence[dict]) -> list[str]:
    """Test samples lacking a modality, when the runs recorded them."""
    if not any("test_lacking" in r for r in runs):
        return []
    return [
        "",
        "## Test samples lacking a modality",
        "",
        "Per variant and split (the same for every experiment of the split). *Evaluated "
        "on silence*: the clip has no audio track; the model got silent audio, the same "
        "input for every such sample. *Left out*: no entry in that modality's shards (no "
        "file, or a stage quarantined it); the sample is not in the run's test set "
        "(Quarantine, stage train).",
        "",
        *(lacking_lines(runs) or ["Every test sample had every modality of its variant."]),
    ]


def _means_section(means: pd.DataFrame, metrics: list[str]) -> list[str]:
    """Mean ± std over splits."""
    lines = [
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
    return lines


def _hidden_section(runs: Sequence[dict]) -> list[str]:
    """The hidden-class runs beside their variant's full run."""
    hidden = [r for r in runs if "hidden_classes" in r]
    if not hidden:
        return []
    lines = [
        "",
        "## Hidden classes",
        "",
        "Classes withheld from one modality's stage-1 training; stage 2 saw every class. "
        "*Drop*: the variant's full run on the split less this run, in top-1 points "
        "(x 100).",
        "",
        "| variant | split | experiment | hidden classes | top1 hidden | top1 seen | top1 | drop |",
        "|---|---|---|---|---|---|---|---|",
    ]
    full = {(r["variant"], r["split"]): r["top1"] for r in runs if r["experiment"] == "full"}
    for r in hidden:
        base = full.get((r["variant"], r["split"]))
        drop = "" if base is None else f"{100 * (base - r['top1']):.1f}"
        lines.append(
            f"| {r['variant']} | {r['split']} | {r['experiment']} | "
            f"{', '.join(r['hidden_classes'])} | {r['top1_hidden']:.3f} | "
            f"{r['top1_seen']:.3f} | {r['top1']:.3f} | {drop} |"
        )
    return lines


def _resources_section(benchmarks: pd.DataFrame | None, runs: Sequence[dict]) -> list[str]:
    """Time and memory per stage, and where the figures come from."""
    lines = []
    if benchmarks is not None and not benchmarks.empty:
        lines += [
            "",
            "## Time and memory per stage",
            "",
            "Wall-clock seconds and peak resident memory of the jobs of each rule "
            "(Snakemake `benchmark:` files; this report's own job is not included).",
            "",
            *_markdown_table(benchmarks),
        ]
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
    return lines


def markdown(
    table: pd.DataFrame,
    means: pd.DataFrame,
    runs: Sequence[dict],
    quarantine: pd.DataFrame,
    notes: Sequence[str],
    benchmarks: pd.DataFrame | None = None,
    n_classes: int | None = None,
    published: pd.DataFrame | None = None,
    coverage: pd.DataFrame | None = None,
    classes: Sequence[str] | None = None,
) -> str:
    """The ``summary.md`` text (``n_classes``: the dataset's, which decides whether top-5
    is shown; :func:`shown_metrics`; ``published``: :func:`published_table`;
    ``coverage``: :func:`pose_coverage`)."""
    metrics = shown_metrics(n_classes)
    lines = ["# harfuse report", ""]
    lines += _runs_section(table, runs, notes, metrics, n_classes, classes or [])
    absent = absent_class_lines(runs)
    if absent:
        lines += ["", "## Classes without a test sample", "", *absent]
    if coverage is not None:
        lines += pose_lines(coverage)
    lines += _lacking_section(runs)
    lines += _means_section(means, metrics)
    if published is not None:
        lines += published_lines(published)
    lines += _hidden_section(runs)
    lines += _resources_section(benchmarks, runs)
    lines += ["", "## Quarantine", "", *markdown_quarantine(quarantine)]
    return "\n".join(lines) + "\n"


def markdown_quarantine(quarantine: pd.DataFrame) -> list[str]:
    """``summary.md``'s quarantine section (after its heading): counts by stage, the
    reasons several samples share, and the first rows of each stage."""
    if quarantine.empty:
        return ["No input was quarantined."]
    # a sample has a row per stage and reason (e.g. one per modality it lacks)
    counts = quarantine.groupby("stage", sort=False)["sample_id"].agg(["nunique", "size"])
    lines = [
        f"{_plural(quarantine['sample_id'].nunique(), 'sample')} "
        f"({_plural(len(quarantine), 'row')}) in quarantine.csv; by stage:",
        "",
    ]
    lines += [
        f"- {c.Index}: {_plural(c.nunique, 'sample')} ({_plural(c.size, 'row')})"
        for c in counts.itertuples()
    ]
    lines += _shared_reasons(quarantine)
    lines += ["", "| sample_id | stage | reason |", "|---|---|---|"]
    shown = quarantine.groupby("stage", sort=False).head(SHOWN_PER_STAGE)
    lines += [f"| {r.sample_id} | {r.stage} | {r.reason} |" for r in shown.itertuples()]
    if len(shown) < len(quarantine):
        lines += ["", f"{len(quarantine) - len(shown)} more rows in quarantine.csv."]
    return lines


def _shared_reasons(quarantine: pd.DataFrame, shown: int = SHOWN_PER_STAGE) -> list[str]:
    """Markdown lines counting the samples of each reason given word for word to several
    samples (e.g. a published list of samples to leave out), most frequent first."""
    counts = quarantine.groupby(["stage", "reason"], sort=False)["sample_id"].nunique()
    counts = counts[counts > 1].sort_values(ascending=False, kind="stable")
    if counts.empty:
        return []
    lines = ["", "Reasons shared by several samples:", ""]
    lines += [
        f"- {stage}, {_plural(n, 'sample')}: {reason}"
        for (stage, reason), n in counts[:shown].items()
    ]
    if len(counts) > shown:
        lines.append(f"- {len(counts) - shown} more in quarantine.csv")
    return lines


def run(
    metrics_paths: Sequence[str | Path],
    quarantine_paths: Sequence[str | Path],
    classes_path: str | Path,
    notes: Sequence[str],
    out_dir: str | Path,
    benchmark_paths: Sequence[str | Path] = (),
    benchmark_root: str | Path = "logs/benchmarks",
    model_paths: Sequence[str | Path] = (),
    published: Mapping[str, Any] | None = None,
    layout: str | None = None,
    manifest_path: str | Path | None = None,
    skipped: Mapping[str, str] | None = None,
    pose_paths: Sequence[str | Path] = (),
) -> None:
    """Write under ``out_dir``: ``summary.csv`` (one row per variant, split and
    experiment), ``aggregate.csv`` (mean ± std over splits), ``summary.md``,
    ``quarantine.csv`` (every quarantine row of every stage, without repeats),
    ``benchmarks.csv`` (time and memory per rule from ``benchmark_paths``, files under
    ``benchmark_root``) and the figures ``confusion.png``, ``variants.png``,
    ``learning_curves.png`` and, when a variant was swept over training-data ratios,
    ``ratio_sweep.png``. Top-5 is left out of the tables when
    ``classes_path`` lists 5 classes or fewer.

    ``published.csv`` (:func:`published_table`; only its header without figures) compares
    the config's ``published`` block with the runs, their ``model.json`` (``model_paths``:
    which rgb features came from random weights), the dataset's ``layout`` and
    ``manifest_path`` (its sample count) and ``skipped`` (variant -> why it has no run).
    With ``pose_paths`` (the pose stage's shards) and ``manifest_path``, ``summary.md``
    shows the pose coverage per class (:func:`pose_coverage`)."""
    out_dir = Path(out_dir)
    classes = json.loads(Path(classes_path).read_text())
    metrics = shown_metrics(len(classes))
    runs = load_runs(metrics_paths)
    table = summary_table(runs, metrics)
    means = aggregate(table, metrics)
    quarantine = read_quarantine(quarantine_paths).drop_duplicates(ignore_index=True)
    benchmarks = benchmark_table(benchmark_paths, benchmark_root)
    _write_csv(out_dir / "summary.csv", table, "%.4f")
    _write_csv(out_dir / "aggregate.csv", means, "%.4f")
    _write_csv(out_dir / "quarantine.csv", quarantine)
    _write_csv(out_dir / "benchmarks.csv", benchmarks, "%.2f")
    manifest = read_manifest(manifest_path) if manifest_path else None
    compared = _compared(published or {}, runs, model_paths, layout, classes, manifest, skipped)
    _write_csv(out_dir / "published.csv", compared, "%.2f")
    coverage = (
        pose_coverage(pose_paths, manifest, quarantine)
        if pose_paths and manifest is not None
        else None
    )
    text = markdown(table, means, runs, quarantine, notes, benchmarks, len(classes), compared,
                    coverage, classes)  # fmt: skip
    write_text(out_dir / "summary.md", text)
    _figures(runs, means, classes, out_dir)


def _compared(
    published: Mapping[str, Any],
    runs: Sequence[dict],
    model_paths: Sequence[str | Path],
    layout: str | None,
    classes: list[str],
    manifest: pd.DataFrame | None,
    skipped: Mapping[str, str] | None,
) -> pd.DataFrame:
    """``published.csv``: :func:`published_table` of the config's ``published`` block."""
    figures = published.get("figures", [])
    n_samples = len(manifest) if figures and manifest is not None else None
    return published_table(
        figures,
        runs,
        random_rgb_runs(model_paths),
        dataset_mismatch(published, layout, len(classes), n_samples),
        skipped,
    )


def _write_csv(path: Path, table: pd.DataFrame, float_format: str | None = None) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format=float_format)


def _figures(runs: Sequence[dict], means: pd.DataFrame, classes: list[str], out_dir: Path) -> None:
    """The report's figures: confusion matrices, learning curves (the first split's full
    runs), the variants' bars and, with a sweep, top-1 against the training-data ratio."""
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
