"""The whole DAG on a tiny demo, in a temporary working directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from harfuse.plan import experiments, feature_set
from harfuse.stages.report import COLUMNS

from .background import Background
from .helpers import REPO, job_counts, snakemake

pytestmark = pytest.mark.slow


def tiny_config() -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["dataset"]["samples_per_shard"] = 36
    cfg["demo"].update(subjects=4, trials=3, size=48)
    cfg["frames"]["size"] = 48
    for spec in cfg["features"]["sets"].values():
        spec["input_size"] = [48, 48]
    # VGG16's frozen features run through the DAG in tests/conftest.py's stills_run: here
    # the still-image set is a ResNet-18, the same frame path without 138 M weights to init
    cfg["features"]["sets"]["still_image"]["encoder"] = "resnet18"
    cfg["train"]["params"]["epochs"] = 40
    for spec in cfg["train"]["variants"].values():
        if "backbone" in spec.get("options", {}):  # fine-tuning: the code path, not a score
            spec["params"] = {"epochs": 3}
    cfg["experiments"].update(ratios=[0.5], ratio_variants=["imu", "mid_fusion"])
    # the skeleton's paths: the skeleton variant and mid_fusion here, the rest in
    # tests/test_skeleton_workflow.py; mid fusion's gated and attention merges and a
    # two-stage model on a fine-tuned backbone wire exactly as mid_fusion and two_stage
    # do: their models are tests/test_models.py's and tests/test_finetune.py's, and the
    # two-stage recipes of tests/test_recipes.py train them through the DAG (the suite's
    # time)
    for name in (
        "skeleton_audio",
        "rgb_skeleton",
        "mid_gated",
        "mid_attention",
        "two_stage_finetuned",
    ):
        del cfg["train"]["variants"][name]
    return cfg


def train_jobs(cfg: dict, uses) -> int:
    """Training jobs (one split) of the variants for which ``uses(name, spec)`` is true."""
    return sum(
        len(experiments(cfg, name))
        for name, spec in cfg["train"]["variants"].items()
        if uses(name, spec)
    )


#: one variant per kind of input (every modality's features, two stages, clips of frames),
#: rerun from scratch by the determinism test; every model's training is repeated to the
#: byte in tests/test_stages.py (test_training_is_deterministic_on_cpu)
RERUN = ["mid_fusion", "two_stage", "rgb_finetuned"]


def rerun_config() -> dict:
    """:func:`tiny_config` with the :data:`RERUN` variants only, a ratio sweep and hidden
    classes on one of them each, and every stage's samples in one shard instead of two
    (what a sample's outputs are does not depend on the shard it is in)."""
    cfg = tiny_config()
    cfg["dataset"]["samples_per_shard"] = 1000
    cfg["train"]["variants"] = {v: cfg["train"]["variants"][v] for v in RERUN}
    cfg["experiments"]["ratio_variants"] = ["mid_fusion"]
    cfg["experiments"]["hidden_variants"] = ["two_stage"]
    return cfg


def demo_run(folder: Path) -> tuple[Path, dict]:
    """:func:`tiny_config` in ``folder/run-full``, run in the background (tests/conftest.py)."""
    return folder / "run-full", tiny_config()


def rerun(folder: Path) -> tuple[Path, dict]:
    """:func:`rerun_config` in ``folder/run-again``, run in the background (each job's
    results do not depend on the load)."""
    return folder / "run-again", rerun_config()


@pytest.fixture(scope="module")
def finished_run(background: Background) -> Path:
    """The whole DAG of :func:`tiny_config` (:func:`demo_run`)."""
    return background.result("demo")


@pytest.fixture(scope="module")
def demo_runs(finished_run: Path, background: Background) -> dict[str, Path]:
    """``full``: :func:`finished_run`; ``again``: :func:`rerun`, from scratch in another
    folder."""
    return {"full": finished_run, "again": background.result("demo-again")}


def test_report_lists_every_variant(finished_run):
    summary = pd.read_csv(finished_run / "results/demo/report/summary.csv")
    assert list(summary.columns) == COLUMNS
    cfg = tiny_config()
    main = summary[summary["experiment"] == "full"]
    assert sorted(main["variant"]) == sorted(cfg["train"]["variants"])
    runs = {(v, e) for v in cfg["train"]["variants"] for e in experiments(cfg, v)}
    assert set(zip(summary["variant"], summary["experiment"], strict=True)) == runs
    assert {"ratio50", "hidden2_rgb", "hidden2_imu"} <= set(summary["experiment"])
    assert set(summary["split"]) == {"cross_subject"}
    assert summary[["top1", "top5", "macro_f1"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (summary["top5"] >= summary["top1"]).all()
    md = (finished_run / "results/demo/report/summary.md").read_text()
    assert "weights: none (random init, frozen)" in md
    assert "No input was quarantined." in md
    assert "## Hidden classes" in md and "## Mean ± std over splits" in md
    by_variant = main.set_index("variant")
    assert by_variant.loc["mid_fusion", "modalities"] == "rgb+flow+audio+imu+skeleton"
    # the demo's modalities are complementary: the best fusion beats every single modality
    single = [v for v, spec in cfg["train"]["variants"].items() if spec["model"] == "single"]
    fusion = [v for v in cfg["train"]["variants"] if v not in single]
    assert len(single) == 9
    assert by_variant.loc[fusion, "top1"].max() > by_variant.loc[single, "top1"].max() + 0.2
    hidden = summary[summary["experiment"].str.startswith("hidden")]
    assert hidden[["top1_hidden", "top1_seen"]].notna().all().all()


def test_report_figures_and_html_report(finished_run):
    report = finished_run / "results/demo/report"
    for name in ("confusion", "variants", "learning_curves", "ratio_sweep"):
        assert (report / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    aggregate = pd.read_csv(report / "aggregate.csv")
    assert (aggregate["n_splits"] == 1).all() and aggregate["top1_std"].isna().all()
    benchmarks = pd.read_csv(report / "benchmarks.csv").set_index("rule")
    assert {"extract_frames", "compute_flow", "extract_features", "train_variant"} <= set(
        benchmarks.index
    )
    assert benchmarks.loc["train_variant", "jobs"] == len(pd.read_csv(report / "summary.csv"))
    snakemake(finished_run, "--report", "report.html")
    html = (finished_run / "report.html").read_text(errors="replace")
    assert "ratio_sweep.png" in html and "The colour is row-normalised" in html


def test_stage_outputs_follow_the_layout(finished_run):
    res = finished_run / "results/demo"
    stages = ["frames", "audio", "imu", "flow-farneback"]
    stages += [f"features/{name}" for name in tiny_config()["features"]["sets"]]
    for stage in stages:
        assert sorted(p.name for p in (res / stage).glob("shard-*.h5")) == [
            "shard-0.h5",
            "shard-1.h5",
        ], stage
    run = res / "runs/mid_fusion/cross_subject/full"
    for name in ("metrics.json", "model.pt", "model.json", "predictions.parquet"):
        assert (run / name).exists()
    assert (finished_run / "logs/train_variant/demo/mid_fusion/cross_subject/full.log").exists()
    assert not list(res.rglob(".*.tmp"))  # no temporary file left behind


def test_a_fresh_run_gives_byte_identical_tables(demo_runs):
    """Same machine, same config (seeds), same cores: the DAG again from scratch in another
    folder, its samples in one shard per stage instead of two, gives the same bytes in
    the report's rows. (A variant's runs depend only on its own inputs, so rerunning one
    of each kind (fusion of every modality, two stages, a fine-tuned backbone) keeps the
    suite short.)"""
    finished_run, again = demo_runs["full"], demo_runs["again"]
    for name in ("summary.csv", "aggregate.csv"):
        table = Path("results/demo/report") / name
        header, *rows = (finished_run / table).read_text().splitlines()
        kept = [header, *(row for row in rows if row.split(",")[0] in RERUN)]
        assert (again / table).read_text().splitlines() == kept, name


def test_second_run_has_nothing_to_do(finished_run):
    out = snakemake(finished_run, "--dry-run")
    assert "Nothing to be done" in out


SETS = 3  # feature sets of the demo config, two shards each

#: stage section -> (edit of the config, stage jobs it reruns, variants that depend on it)
SECTIONS = {
    "frames": (
        lambda cfg: cfg["frames"].update(fps=6.0),
        {"extract_frames": 2, "compute_flow": 2, "extract_features": 2 * SETS},
        lambda cfg, v, spec: bool({"rgb", "flow"} & set(spec["modalities"])),
    ),
    "audio": (
        lambda cfg: cfg["audio"].update(n_mels=48),
        {"extract_audio": 2},
        lambda cfg, v, spec: "audio" in spec["modalities"],
    ),
    "imu": (
        lambda cfg: cfg["imu"].update(window=90),
        {"extract_sample_files": 2},  # the imu shards only (modality=imu)
        lambda cfg, v, spec: "imu" in spec["modalities"],
    ),
    "flow": (
        lambda cfg: cfg["flow"].update(params={"winsize": 9}),
        {"compute_flow": 2},
        lambda cfg, v, spec: "flow" in spec["modalities"],
    ),
    "features": (
        lambda cfg: cfg["features"]["sets"]["video_cnn"].update(num_frames=4),
        {"extract_features": 2},
        lambda cfg, v, spec: "rgb" in spec["modalities"] and feature_set(cfg, v) == "video_cnn",
    ),
    "skeleton": (
        lambda cfg: cfg["skeleton"].update(max_bodies=1),
        {"extract_sample_files": 2},  # the skeleton shards only
        lambda cfg, v, spec: "skeleton" in spec["modalities"],
    ),
    "train": (
        lambda cfg: cfg["train"]["params"].update(lr=0.002),
        {},
        lambda cfg, v, spec: True,
    ),
}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_changing_a_section_reruns_exactly_its_stage_and_dependents(finished_run, section):
    cfg = tiny_config()
    change, stages, uses = SECTIONS[section]
    change(cfg)
    (finished_run / f"config-{section}.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(finished_run, "--dry-run", config=f"config-{section}.yaml")
    expected = {
        **stages,
        "train_variant": train_jobs(cfg, lambda v, spec: uses(cfg, v, spec)),
        "build_report": 1,
        "all": 1,
    }
    assert job_counts(out) == expected


def test_switching_a_variant_to_another_feature_set_reuses_its_cache(finished_run):
    cfg = tiny_config()
    cfg["train"]["variants"]["rgb"]["features"] = "video_cnn"
    (finished_run / "config-switch.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(finished_run, "--dry-run", config="config-switch.yaml")
    assert job_counts(out) == {"train_variant": 1, "build_report": 1, "all": 1}


def folder_config_run(folder: Path) -> tuple[Path, dict]:
    """configs/folder.yaml as shipped (only the data root and the weights changed) on clips
    of 4:3, 2.35:1 and 11:9 written in ``folder``: its workdir and config, run in the
    background (tests/conftest.py)."""
    from harfuse.datasets.fixture_media import tiny_video

    root = folder / "my-videos"
    shapes = [(72, 96), (54, 128), (36, 44)]
    for ci, cls in enumerate(("jump", "wave")):
        for j, shape in enumerate(shapes):
            tiny_video(root / cls / f"clip{j}.mp4", seed=10 * ci + j, frames=12, size=shape)
    cfg = yaml.safe_load((REPO / "configs/folder.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    for spec in cfg["features"]["sets"].values():
        spec["weights"] = "none"
    return folder / "run", cfg


@pytest.fixture(scope="module")
def folder_config_workdir(background: Background) -> Path:
    """The workflow run of :func:`folder_config_run`."""
    return background.result("folder")


def test_folder_config_runs_on_three_aspect_ratios(folder_config_workdir: Path):
    """configs/folder.yaml's run (:func:`folder_config_run`): every variant trains, and
    flow fields share one shape."""
    from harfuse.store.shards import ShardReader

    workdir = folder_config_workdir
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    widths = set()
    for shard in (workdir / "results/myvideos/flow-farneback").glob("*.h5"):
        reader = ShardReader(shard)
        widths |= {reader.read(s, "flow").shape[2] for s in reader.sample_ids()}
        reader.close()
    assert len(widths) == 3  # stored as computed: 128 px short side, aspect ratio kept
    summary = pd.read_csv(workdir / "results/myvideos/report/summary.csv")
    assert set(summary["variant"]) == set(cfg["train"]["variants"])
    assert summary["top1"].notna().all()
