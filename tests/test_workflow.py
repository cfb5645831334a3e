"""The whole DAG on a tiny demo, in a temporary working directory."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from .helpers import REPO, job_counts, snakemake

pytestmark = pytest.mark.slow


def tiny_config() -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["dataset"]["samples_per_shard"] = 36
    cfg["demo"].update(subjects=4, trials=3, size=48)
    cfg["frames"]["size"] = 48
    cfg["features"]["input_size"] = [48, 48]
    cfg["train"]["params"]["epochs"] = 40
    return cfg


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    (workdir / "config.yaml").write_text(yaml.safe_dump(tiny_config()))
    snakemake(workdir)
    return workdir


def test_report_lists_every_variant(finished_run):
    summary = pd.read_csv(finished_run / "results/demo/report/summary.csv")
    assert list(summary.columns) == [
        "variant",
        "modalities",
        "split",
        "top1",
        "top5",
        "macro_f1",
        "mean_class_acc",
    ]
    assert sorted(summary["variant"]) == sorted(tiny_config()["train"]["variants"])
    assert set(summary["split"]) == {"cross_subject"}
    assert summary[["top1", "top5", "macro_f1"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (summary["top5"] >= summary["top1"]).all()
    md = (finished_run / "results/demo/report/summary.md").read_text()
    assert "weights: none (random init, frozen)" in md
    assert "No input was quarantined." in md
    by_variant = summary.set_index("variant")
    assert by_variant.loc["mid_fusion", "modalities"] == "rgb+flow+audio+imu"
    # the demo's modalities are complementary: fusion beats every single modality
    singles = by_variant.loc[["rgb", "flow", "audio", "imu"], "top1"]
    assert by_variant.loc["mid_fusion", "top1"] > singles.max() + 0.2


def test_stage_outputs_follow_the_layout(finished_run):
    res = finished_run / "results/demo"
    for stage in ("frames", "audio", "imu", "flow-farneback", "features/resnet18"):
        assert sorted(p.name for p in (res / stage).glob("shard-*.h5")) == [
            "shard-0.h5",
            "shard-1.h5",
        ], stage
    run = res / "runs/mid_fusion/cross_subject"
    for name in ("metrics.json", "model.pt", "model.json", "predictions.parquet"):
        assert (run / name).exists()
    assert (finished_run / "logs/train_variant/demo/mid_fusion/cross_subject.log").exists()
    assert not list(res.rglob(".*.tmp"))  # no temporary file left behind


def test_second_run_has_nothing_to_do(finished_run):
    out = snakemake(finished_run, "--dry-run")
    assert "Nothing to be done" in out


@pytest.mark.parametrize(
    ("section", "change", "expected"),
    [
        (
            "flow",
            {"params": {"winsize": 9}},
            {"compute_flow": 2, "train_variant": 3, "build_report": 1, "all": 1},
        ),
        (
            "imu",
            {"window": 90},
            {"extract_imu": 2, "train_variant": 3, "build_report": 1, "all": 1},
        ),
    ],
)
def test_changing_a_section_reruns_exactly_its_stage_and_dependents(
    finished_run, section, change, expected
):
    cfg = tiny_config()
    cfg[section].update(change)
    (finished_run / f"config-{section}.yaml").write_text(yaml.safe_dump(cfg))
    out = snakemake(finished_run, "--dry-run", config=f"config-{section}.yaml")
    assert job_counts(out) == expected
