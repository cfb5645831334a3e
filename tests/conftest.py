"""Shared fixtures: a tiny demo dataset generated once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harfuse.check_memo import CACHE_ENV
from harfuse.datasets import adapter
from harfuse.datasets.demo import DemoSpec, generate_demo
from harfuse.stages import audio, features, flow, frames, manifest, sample_files

from .helpers import snakemake, tiny_config, write_config

REPO = Path(__file__).resolve().parents[1]
# the benchmarks' support modules (flow_cases, opencv_pin) are not part of the package
sys.path.append(str(REPO / "benchmarks"))
#: 2 subjects x 6 actions x 1 trial = 12 samples; s1 trains, s2 tests
TINY_DEMO = DemoSpec(seed=3, subjects=2, trials=1, size=48)


@pytest.fixture(scope="session", autouse=True)
def check_memo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parse-time checks' memo (:mod:`harfuse.check_memo`) of this session, shared by
    its Snakemake commands (they inherit the environment), never the user's."""
    folder = tmp_path_factory.mktemp("check-memo")
    os.environ[CACHE_ENV] = str(folder)
    return folder


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("demo") / "demo", TINY_DEMO)


TRAIN = {"epochs": 3, "batch_size": 4, "lr": 1e-3, "weight_decay": 0.0, "seed": 0}
INPUTS = {"flow_length": 4, "audio_frames": 60}
FRAMES = {"fps": 8.0, "size": 32, "storage": "raw"}
AUDIO = {"sample_rate": 16000, "n_mels": 32, "n_fft": 512, "hop_length": 320}
FLOW = {"method": "farneback", "bound": 20.0, "storage": "uint8"}
FEATURES = {
    "encoder": "resnet18",
    "weights": "none",
    "num_frames": 4,
    "input_size": [32, 32],
    "batch_size": 5,
    "seed": 0,
}


def run_stages(
    demo_root: Path, out: Path, frames_cfg: dict = FRAMES, flow_cfg: dict = FLOW
) -> Path:
    """Every stage on the demo at ``demo_root`` into ``out``, without Snakemake (one shard
    per stage): manifest, frames, audio, imu, flow and features."""
    out.mkdir(parents=True, exist_ok=True)
    manifest.run(
        out / "manifest.parquet",
        out / "classes.json",
        out / "quarantine.parquet",
        {"root": str(demo_root), "layout": "demo"},
        samples_per_shard=100,
    )
    m = out / "manifest.parquet"
    frames.run(m, 0, out / "frames.h5", frames_cfg, "skip")
    audio.run(m, 0, out / "audio.h5", AUDIO, "skip")
    sample_files.run(m, 0, out / "imu.h5", "imu", {"rate": 50.0, "window": 100}, "skip")
    flow.run(out / "frames.h5", out / "flow.h5", flow_cfg, "skip")
    features.run(out / "frames.h5", out / "features.h5", FEATURES, "cpu")
    return out


@pytest.fixture(scope="session")
def prepared(demo_root, tmp_path_factory) -> Path:
    """Every stage run on the tiny demo, without Snakemake (one shard per stage)."""
    return run_stages(demo_root, tmp_path_factory.mktemp("stages"))


@pytest.fixture(scope="session")
def stills_config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """:func:`tiny_config` of the image_csv layout on its fixture, with two variants still
    images cannot feed (flow, rgb + audio)."""
    root = adapter("image_csv").write_fixture(tmp_path_factory.mktemp("stills") / "data")
    cfg = tiny_config("image_csv", root)
    cfg["train"]["variants"].update(
        flow={"model": "single", "modalities": ["flow"]},
        rgb_audio={"model": "mid", "modalities": ["rgb", "audio"]},
    )
    return cfg


@pytest.fixture(scope="session")
def stills_run(stills_config: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workflow run here on :func:`stills_config`: tests/test_datasets.py reads how
    the two variants were skipped, tests/test_slurm.py compares a SLURM run of the same
    config with it."""
    workdir = tmp_path_factory.mktemp("stills-local")
    write_config(workdir, stills_config)
    snakemake(workdir)
    return workdir


@pytest.fixture(scope="session")
def kinect_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """UTD-MHAD and NTU RGB+D fixtures with depth through the workflow (tests/kinect_dag.py):
    tests/test_depth.py and tests/test_skeleton_workflow.py read them."""
    from .kinect_dag import run_dags

    return run_dags(tmp_path_factory.mktemp("kinect-dag"))


@pytest.fixture(scope="session", autouse=True)
def slurm_run(request: pytest.FixtureRequest, check_memo_folder: Path):
    """tests/test_slurm.py's run of :func:`stills_config` through SLURM, started before
    the session's first test when that test is selected (None otherwise), stopped at the
    end of the session if it still runs. The run mostly waits: the SLURM executor checks
    its jobs' states 10 s later after each check that found none finished, so the other
    tests use the cores meanwhile (about 70 s of the suite's time)."""
    from .test_slurm import TEST, start_cluster_run

    if not any(getattr(item, "originalname", "") == TEST for item in request.session.items):
        yield None
        return
    factory = request.getfixturevalue("tmp_path_factory")
    run = start_cluster_run(request.getfixturevalue("stills_config"), factory.mktemp("slurm"))
    yield run
    run.stop()
