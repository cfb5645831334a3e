"""Shared fixtures: a tiny demo dataset generated once per session, the stages run on it,
and the whole-DAG runs that tests read, started in the background (tests/background.py)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harfuse.check_memo import CACHE_ENV
from harfuse.datasets import adapter
from harfuse.datasets.demo import DemoSpec, generate_demo
from harfuse.stages import audio, features, flow, frames, manifest, sample_files

from .background import Background, Task, reads_fixture
from .helpers import tiny_config

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
def stills_run(background: Background) -> Path:
    """The workflow run here on :func:`stills_config`: tests/test_datasets.py reads how
    the two variants were skipped, tests/test_slurm.py compares a SLURM run of the same
    config with it."""
    return background.result("stills")


@pytest.fixture(scope="session")
def kinect_runs(background: Background) -> dict[str, Path]:
    """UTD-MHAD and NTU RGB+D fixtures with depth through the workflow (tests/kinect_dag.py):
    tests/test_depth.py and tests/test_skeleton_workflow.py read them."""
    return {layout: background.result(f"kinect-{layout}") for layout in ("utd_mhad", "ntu_rgbd")}


def _called(name: str) -> Callable[[pytest.Item], bool]:
    """``wanted`` of a run that the test function ``name`` reads (each of its cases)."""
    return lambda item: getattr(item, "originalname", "") == name


def _recipe_task(name: str) -> Task:
    """The smoke run of recipe ``name`` that tests/test_recipes.py's end-to-end case of
    that recipe reads."""
    from . import test_recipes

    def wanted(item: pytest.Item) -> bool:
        called = _called(test_recipes.END_TO_END)(item)
        return called and item.callspec.params["name"] == name  # type: ignore[attr-defined]

    return Task(f"recipe-{name}", lambda folder: test_recipes.smoke_run(name, folder), wanted)


def _tasks() -> list[Task]:
    """The session's background runs (tests/background.py), roughly longest first: each
    starts when a selected test reads it; the tests that read them run last, in this
    order."""
    from . import kinect_dag, test_recipes, test_slurm, test_workflow

    recipes = [_recipe_task(name) for name in test_recipes.BY_RUN_TIME]
    reads_kinect = reads_fixture("kinect_runs")
    stills_wanted = reads_fixture("stills_run")
    # the SLURM test compares its run with this one, when SLURM can run here
    slurm_test = _called(test_slurm.TEST)

    def compared(item: pytest.Item) -> bool:
        return slurm_test(item) and test_slurm.slurm_unavailable() is None

    return [
        Task("demo", test_workflow.demo_run, reads_fixture("finished_run")),
        *recipes[:2],
        Task("demo-again", test_workflow.rerun, reads_fixture("demo_runs")),
        *recipes[2:4],
        Task("kinect-utd_mhad", kinect_dag.utd_run, reads_kinect),
        Task("kinect-ntu_rgbd", kinect_dag.ntu_run, reads_kinect),
        *recipes[4:],
        Task("folder", test_workflow.folder_config_run, reads_fixture("folder_config_workdir")),
        Task(
            "stills",
            lambda folder, stills_config: (folder / "run", stills_config),
            lambda item: stills_wanted(item) or compared(item),
            needs=("stills_config",),
        ),
    ]


def _last_task(item: pytest.Item, tasks: list[Task]) -> int:
    """The index of the last background run ``item`` reads; -1 when it reads none."""
    return max((i for i, task in enumerate(tasks) if task.wanted(item)), default=-1)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that read a background run after the others, in the order the runs start
    (by the last one a test reads; stable: modules and cases keep their order otherwise)."""
    tasks = _tasks()
    items.sort(key=lambda item: _last_task(item, tasks))


@pytest.fixture(scope="session", autouse=True)
def background(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    check_memo_folder: Path,  # first: the runs' environment names the session's memo
) -> Iterator[Background]:
    """The background runs that the selected tests read, started before the first test
    (tests/background.py); killed at the end of the session if they still run.

    Once any is started, the tests' own torch and OpenCV calls use one thread for the rest
    of the session: on a CPU shared with other processes, every small multi-threaded
    operation waits for a thread that lost its core (TV-L1's parity test took 175 s
    instead of 22 s with two threads on 2 cores)."""
    import cv2
    import torch

    items = request.session.items
    wanted = [task for task in _tasks() if any(task.wanted(item) for item in items)]
    # every fixture and folder first: nothing can fail once a run is started
    folders = {task.name: tmp_path_factory.mktemp(task.name) for task in wanted}
    fixtures = {name: request.getfixturevalue(name) for task in wanted for name in task.needs}
    runs = Background()
    threads = torch.get_num_threads(), cv2.getNumThreads()
    try:
        for task in wanted:
            runs.start(task, folders[task.name], {n: fixtures[n] for n in task.needs})
        if wanted:
            torch.set_num_threads(1)
            cv2.setNumThreads(1)
        yield runs
    finally:
        runs.stop()
        torch.set_num_threads(threads[0])
        cv2.setNumThreads(threads[1])


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
