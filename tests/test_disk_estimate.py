"""``harfuse plan`` and the disk check before the shard jobs: the estimate of the demo
config against the bytes its stages really write."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from harfuse import cli, disk_estimate, preflight
from harfuse.config_schema import validate
from harfuse.datasets.demo import DemoSpec, generate_demo
from harfuse.disk_estimate import estimate_disk, human_bytes, render, stored_frames
from harfuse.plan import feature_params
from harfuse.stages import audio, features, flow, frames, manifest
from harfuse.store.manifest import read_manifest
from harfuse.store.quarantine import quarantine_path

from .conftest import REPO

#: samples per shard in the test: a quarter of config.yaml's 48, so that a shard runs in a
#: quarter of the time (the estimate counts the per-shard files of 12 shards instead of 3)
SAMPLES_PER_SHARD = 12
#: the shards run: the manifest lists the samples by action, 2 shards an action, so these
#: hold one action of each motion (wave, swing, circle: their flow differs by 30 %)
RUN_SHARDS = (0, 4, 8)


def demo_config(root: Path) -> dict:
    """The repository's config.yaml (the demo), validated, with the demo at ``root`` and
    :data:`SAMPLES_PER_SHARD`."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["dataset"].update(root=str(root), samples_per_shard=SAMPLES_PER_SHARD)
    validate(config)
    return config


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> tuple[Path, dict]:
    """The demo of config.yaml generated, its manifest built, and :data:`RUN_SHARDS` of
    the frames, flow and audio stages run as the workflow runs them, the first of them of
    each features set (every shard holds as many samples); ``(workdir, config)``."""
    work = tmp_path_factory.mktemp("plan")
    config = demo_config(work / "resources" / "demo")
    generate_demo(config["dataset"]["root"], DemoSpec(**config["demo"]))
    out = work / "results" / "demo"
    out.mkdir(parents=True)
    manifest.run(
        out / "manifest.parquet",
        out / "classes.json",
        out / "quarantine.parquet",
        config["dataset"],
        config["dataset"]["samples_per_shard"],
    )
    for k in RUN_SHARDS:
        shard = f"shard-{k}.h5"
        frames.run(out / "manifest.parquet", k, out / "frames" / shard, config["frames"], "skip")
        flow.run(out / "frames" / shard, out / "flow-farneback" / shard, config["flow"], "skip")
        audio.run(out / "manifest.parquet", k, out / "audio" / shard, config["audio"], "skip")
    for name in config["features"]["sets"]:  # their bytes depend on the sample count only
        params = feature_params(config, name)
        shard = f"shard-{RUN_SHARDS[0]}.h5"
        features.run(out / "frames" / shard, out / "features" / name / shard, params, "cpu")
    return work, config


def real_bytes(folder: Path, shards: int) -> float:
    """Bytes a stage writes for ``shards`` shards, from those of :data:`RUN_SHARDS` it
    wrote (their HDF5 files and quarantine tables)."""
    paths = [p for k in RUN_SHARDS if (p := folder / f"shard-{k}.h5").exists()]
    written = sum(p.stat().st_size + quarantine_path(p).stat().st_size for p in paths)
    return written * shards / len(paths)


def test_the_estimate_of_the_demo_is_within_20_percent_of_its_real_bytes(demo_run, monkeypatch):
    work, config = demo_run
    monkeypatch.chdir(work)
    df = read_manifest("results/demo/manifest.parquet")
    assert df["shard"].value_counts().eq(SAMPLES_PER_SHARD).all()  # equal shards
    assert df.groupby("shard")["label"].nunique().eq(1).all()  # one action a shard
    estimate = estimate_disk(config)
    stages = {s.stage: s for s in estimate.stages}
    assert estimate.samples == 144 and estimate.shards == 144 // SAMPLES_PER_SHARD
    assert estimate.probe.probed == 64 and estimate.probe.measured == 16
    # the demo's variants read every modality but depth, and every features set
    assert set(stages) >= {"frames", "flow-farneback", "audio", "imu", "skeleton", "runs"}
    sets = config["features"]["sets"]
    assert {s for s in stages if s.startswith("features/")} == {f"features/{n}" for n in sets}
    ratios = {}
    for stage in ("frames", "flow-farneback", "audio", *(f"features/{n}" for n in sets)):
        real = real_bytes(work / "results" / "demo" / stage, estimate.shards)
        ratios[stage] = stages[stage].total / real
    assert all(0.8 <= r <= 1.2 for r in ratios.values()), ratios
    # features are exact: the same layout written with zeros
    assert all(abs(r - 1) < 0.01 for s, r in ratios.items() if s.startswith("features/")), ratios
    # 2 s clips at 8 fps: ~16 frames, ~15 pairs, ~100 log-mel frames a sample
    assert 14 * 144 <= stages["frames"].items <= 20 * 144
    assert stages["flow-farneback"].items == pytest.approx(stages["frames"].items - 144)


def test_plan_prints_the_table_and_warns_when_the_disk_is_short(demo_run, monkeypatch, capsys):
    work, _ = demo_run
    monkeypatch.chdir(work)
    (work / "config.yaml").write_text((REPO / "config.yaml").read_text())
    argv = ["plan", "--sample", "8", "--measure", "2", "--config", "smoke=False"]
    assert cli.main(argv) == cli.OK
    out = capsys.readouterr().out
    assert "probed: durations of 8 of 144 videos" in out and "2 of them decoded" in out
    for stage in ("frames", "flow-farneback", "features/frame_cnn", "audio", "runs", "total"):
        assert f"\n{stage} " in out
    assert "free at " in out and "WARNING" not in out
    monkeypatch.setattr(disk_estimate, "free_space", lambda path: (1000, Path("/small")))
    assert cli.main(argv) == cli.OK
    warning = capsys.readouterr().out.splitlines()[-1]
    assert warning.startswith("WARNING: the run will write about ")
    assert "only 1000 B is free at /small" in warning and "(runs " in warning


def test_plan_says_what_to_do_before_the_demo_exists(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    assert cli.main(["plan"]) == cli.USAGE
    err = capsys.readouterr().err
    assert "resources/demo does not exist yet" in err and "snakemake --cores 1" in err


def test_the_workflow_warns_before_the_shard_jobs_only_when_the_disk_is_short(
    demo_run, monkeypatch, caplog
):
    work, config = demo_run
    monkeypatch.chdir(work)
    df = read_manifest("results/demo/manifest.parquet")
    with caplog.at_level(logging.INFO, logger="harfuse.preflight"):
        preflight.warn_disk(config, df)
    assert "still to write" in caplog.text and "WARNING" not in caplog.text
    caplog.clear()
    monkeypatch.setattr(disk_estimate, "free_space", lambda path: (0, Path("/full")))
    preflight.warn_disk(config, df)
    [record] = caplog.records
    assert record.levelno == logging.WARNING and "HARFUSE_DISK_CHECK=0" in record.message
    # a failing estimate is a warning too, never an error that stops the run
    caplog.clear()
    preflight.warn_disk(config, df.assign(video_path="nowhere.mp4", image_path=""))
    assert "disk estimate skipped" in caplog.text


def test_the_check_runs_only_for_a_snakemake_run_that_starts_jobs(monkeypatch):
    wanted = preflight.disk_check_wanted
    assert wanted(["/venv/bin/snakemake", "--cores", "2"])
    assert wanted(["/venv/lib/python3.11/site-packages/snakemake/__main__.py", "-c1"])
    assert not wanted(["/venv/bin/snakemake", "--cores", "2", "-n"])  # dry runs stay fast
    assert not wanted(["/venv/bin/snakemake", "-np", "--cores", "2"])
    assert not wanted(["/venv/bin/snakemake", "--unlock"])
    assert not wanted(["/venv/bin/snakemake", "--cores", "1", "--mode", "remote"])  # a job
    assert not wanted(["/venv/bin/pytest", "tests"])  # check_data called from Python
    monkeypatch.setenv(preflight.DISK_CHECK_ENV, "0")
    assert not wanted(["/venv/bin/snakemake", "--cores", "2"])


def test_frames_per_source_follow_the_frames_stage():
    params = {"fps": 8.0, "max_duration_s": None, "num_frames": None}
    assert stored_frames(1.7333, "a.mp4", params) == 14  # the demo's 26 frames at 15 fps
    assert stored_frames(2.0, "a.mp4", params) == 16
    assert stored_frames(600.0, "a.mp4", {**params, "max_duration_s": 10.0}) == 80
    assert stored_frames(600.0, "a.mp4", {**params, "num_frames": 8}) == 8
    assert stored_frames(None, "a.JPG", params) == 1
    assert human_bytes(512) == "512 B" and human_bytes(3 * 1024**4) == "3.0 TiB"
    assert render  # the table itself is checked through the CLI


def test_flow_that_cannot_run_here_is_measured_with_farneback_and_says_so(demo_run, monkeypatch):
    work, config = demo_run
    monkeypatch.chdir(work)
    raft = {**config, "flow": {**config["flow"], "method": "raft"}}  # no weights file
    estimate = estimate_disk(raft, sample=4, measure=2)
    [flow_] = [s for s in estimate.stages if s.stage == "flow-raft"]
    assert "farneback instead of raft" in flow_.how and flow_.total > 0
