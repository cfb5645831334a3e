"""The recipes of published experiments (``configs/`` files with a ``published:`` block):
valid on their layout's fixture, a missing weights file named before any job, the whole
workflow on the fixture as its smoke run (smoke: true), and the job counts of a dry run on a listing
of the full-size dataset (zero-byte files named as the dataset names them)."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from harfuse.config_schema import validate
from harfuse.datasets import adapter
from harfuse.datasets.image_csv import CLASSES_15
from harfuse.plan import experiments
from harfuse.preflight import check_before_work
from harfuse.smoke import SMOKE_NOTE, backbones, smoke_config
from harfuse.stages import manifest
from harfuse.store.manifest import read_manifest

from .background import Background
from .helpers import REPO, job_counts, snakemake, write_config

#: recipe -> its layout
RECIPES = {
    "utd_mhad_s3d_imu_two_stage": "utd_mhad",
    "mmact_s3d_imu_two_stage": "mmact",
    "ucf101_10_frame_cnn_vs_lstm": "ucf101",
    "har_images_vgg16": "image_csv",
    "hmdb51_two_stream": "hmdb51",
    "ucf51_audio_video_fusion": "ucf51",
}
#: layout -> the fixture's keyword arguments: the smallest that each recipe's experiments
#: (a ratio sweep needs two training samples per class, a hidden class a class to spare)
#: run on
FIXTURE_SIZE = {
    "utd_mhad": {"actions": 3, "subjects": 2, "trials": 2},
    "mmact": {"subjects": (1, 17), "sessions": 2},
    "ucf101": {"groups": 3, "clips": 1},
    "image_csv": {"classes": 2, "per_class": 4, "unlabelled": 1},
    "hmdb51": {"per_class": 5},
    "ucf51": {},
}
#: layout -> its first official split, the one the end-to-end runs train on
FIRST_SPLIT = {
    "utd_mhad": "cross_subject",
    "mmact": "cross_subject",
    "ucf101": "split1",
    "image_csv": "holdout",
    "hmdb51": "split1",
    "ucf51": "split1",
}
#: the torchvision file each recipe's pretrained weights are read from
WEIGHTS_FILES = {
    "utd_mhad_s3d_imu_two_stage": {"s3d-d76dad2f.pth"},
    "mmact_s3d_imu_two_stage": {"s3d-d76dad2f.pth"},
    "ucf101_10_frame_cnn_vs_lstm": {"resnet50-0676ba61.pth"},
    "har_images_vgg16": {"vgg16-397923af.pth"},
    "hmdb51_two_stream": {"resnet50-0676ba61.pth"},
    "ucf51_audio_video_fusion": {"resnet50-0676ba61.pth"},
}


def recipe(name: str) -> dict:
    return yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())


def without_weights(cfg: dict, root: Path) -> dict:
    """``cfg`` on the dataset at ``root`` with every pretrained weights set to ``none``."""
    cfg = copy.deepcopy(cfg)
    cfg["dataset"]["root"] = str(root)
    for spec in cfg["features"]["sets"].values():
        spec["weights"] = "none"
    for backbone in backbones(cfg):
        if not backbone.get("init_from"):
            backbone["weights"] = "none"
    return cfg


def shrunk(cfg: dict, root: Path) -> dict:
    """``cfg`` as its smoke run (``smoke: true``, :mod:`harfuse.smoke`: what a user tries
    on a CPU first) on the fixture at ``root``, in one shard, a class subset of N
    (UCF101-10) the first 2 of the fixture's 3."""
    cfg = copy.deepcopy(cfg)
    cfg.update(smoke=True)
    cfg["dataset"].update(root=str(root), samples_per_shard=1000)
    if isinstance(cfg["dataset"].get("classes"), int):  # the first N of the official index
        cfg["dataset"]["classes"] = 2
    return cfg


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("recipe-fixtures")
    return {
        layout: adapter(layout).write_fixture(base / layout, **FIXTURE_SIZE[layout])
        for layout in sorted(set(RECIPES.values()))
    }


def test_every_config_with_published_figures_is_a_recipe_here():
    with_published = {
        p.stem
        for p in (REPO / "configs").glob("*.yaml")
        if "published" in yaml.safe_load(p.read_text())
    }
    assert with_published == set(RECIPES)
    readme = (REPO / "README.md").read_text()
    for name, files in WEIGHTS_FILES.items():
        assert f"configs/{name}.yaml" in readme, name
        assert all(f in readme for f in files), name


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_is_valid_on_its_fixture(name, fixtures):
    """As shipped, apart from the root and the weights: the schema, the dataset's layout,
    every variant's model built and run on one sample of the recipe's full-size shapes."""
    cfg = recipe(name)
    assert cfg["dataset"]["layout"] == RECIPES[name]
    assert cfg["dataset"]["name"] == name
    assert cfg["published"]["figures"] or name == "ucf51_audio_video_fusion"
    named = {b["weights"] for b in backbones(cfg) if not b.get("init_from")}
    named |= {s["weights"] for s in cfg["features"]["sets"].values()}
    assert "none" not in named  # a recipe starts from the published weights
    cfg = without_weights(cfg, fixtures[RECIPES[name]])
    validate(cfg)
    check_before_work(cfg)


def test_missing_weights_stop_the_run_before_any_job_naming_the_file(
    fixtures, tmp_path, monkeypatch
):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty-torch-home"))
    cfg = recipe("ucf51_audio_video_fusion")
    cfg["dataset"]["root"] = str(fixtures["ucf51"])
    write_config(tmp_path, cfg)
    out = snakemake(tmp_path, succeed=False)
    weights = tmp_path / "empty-torch-home/hub/checkpoints/resnet50-0676ba61.pth"
    assert (
        f"features.sets.frame_cnn.weights: resnet50 imagenet weights not found at {weights}" in out
    )
    assert not (tmp_path / "results").exists()


#: recipes in the order their end-to-end runs start, longest first (tests/conftest.py)
BY_RUN_TIME = [
    "utd_mhad_s3d_imu_two_stage",
    "mmact_s3d_imu_two_stage",
    "ucf51_audio_video_fusion",
    "har_images_vgg16",
    "hmdb51_two_stream",
    "ucf101_10_frame_cnn_vs_lstm",
]
#: the end-to-end test's name, by which tests/conftest.py starts the runs it reads
END_TO_END = "test_recipe_runs_end_to_end_on_its_fixture"


def smoke_run(name: str, folder: Path) -> tuple[Path, dict]:
    """Recipe ``name`` shrunk (:func:`shrunk`) on its layout's fixture written in
    ``folder``: its workdir and config, run in the background (tests/background.py)."""
    layout = RECIPES[name]
    root = adapter(layout).write_fixture(folder / layout, **FIXTURE_SIZE[layout])
    return folder / "run", shrunk(recipe(name), root)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_runs_end_to_end_on_its_fixture(name: str, background: Background):
    """The whole DAG of every official layout: each recipe on its layout's fixture gives
    exactly the runs (variant, split, experiment) its config asks for."""
    workdir = background.result(f"recipe-{name}")
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    validate(cfg)
    cfg = smoke_config(cfg)  # as the workflow took it
    report = workdir / "results" / name / "report"
    summary = pd.read_csv(report / "summary.csv")
    split = FIRST_SPLIT[RECIPES[name]]
    expected = {(v, split, e) for v in cfg["train"]["variants"] for e in experiments(cfg, v)}
    runs = zip(summary["variant"], summary["split"], summary["experiment"], strict=True)
    assert set(runs) == expected
    assert summary["top1"].between(0, 1).all()
    assert SMOKE_NOTE in (report / "summary.md").read_text()
    published = pd.read_csv(report / "published.csv", keep_default_na=False)
    assert len(published) == len(cfg["published"]["figures"])
    assert (published["not_compared"] != "").all()  # a fixture is not the published dataset
    for variant, spec in cfg["train"]["variants"].items():
        source = (spec.get("options") or {}).get("backbone", {}).get("init_from")
        if source:  # the frozen backbone is the source's fine-tuned one, to the bit
            runs = workdir / "results" / name / "runs"
            ours, theirs = (
                torch.load(runs / v / split / "full" / "model.pt", weights_only=True)
                for v in (variant, source)
            )
            net = {k.split("backbone.", 1)[1]: v for k, v in ours.items() if "backbone.net." in k}
            src = {k.split("backbone.", 1)[1]: v for k, v in theirs.items() if "backbone.net." in k}
            assert net.keys() == src.keys() and net
            assert all(torch.equal(net[k], src[k]) for k in net)


def official_ucf101(root: Path, classes: int = 101) -> Path:
    """UCF101's listing at full size: 101 classes x 25 groups of 4-7 clips, 13320 videos;
    split k tests groups 7k-6..7k (3783, 3734, 3696 test videos), as the official lists."""
    videos, lists = root / "UCF-101", root / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    names = [f"Action{i:03d}" for i in range(1, classes + 1)]
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\r\n" for i, c in enumerate(names, 1)))
    bands = {range(1, 8): 3783, range(8, 15): 3734, range(15, 22): 3696, range(22, 26): 2107}
    clips = {}
    for groups, total in bands.items():
        cells = [(c, g) for g in groups for c in names]
        extra = total - 4 * len(cells)
        for i, cell in enumerate(cells):
            clips[cell] = 4 + extra // len(cells) + (i < extra % len(cells))
    train: dict[int, list[str]] = {1: [], 2: [], 3: []}
    test: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for ci, cls in enumerate(names, 1):
        (videos / cls).mkdir(parents=True)
        for g in range(1, 26):
            for c in range(1, clips[cls, g] + 1):
                rel = f"{cls}/v_{cls}_g{g:02d}_c{c:02d}.avi"
                (videos / rel).touch()
                for k in (1, 2, 3):
                    if 7 * k - 6 <= g <= 7 * k:
                        test[k].append(f"{rel}\r\n")
                    else:
                        train[k].append(f"{rel} {ci}\r\n")
    for k in (1, 2, 3):
        (lists / f"trainlist0{k}.txt").write_text("".join(train[k]))
        (lists / f"testlist0{k}.txt").write_text("".join(test[k]))
    assert sum(clips.values()) == 13320 and [len(test[k]) for k in (1, 2, 3)] == [3783, 3734, 3696]
    return root


def official_hmdb51(root: Path) -> Path:
    """HMDB51's listing at full size: 6766 clips of 51 classes; per class and split 70
    train, 30 test, the rest unused."""
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True)
    for ci in range(51):
        cls = f"action_{ci:02d}"
        (root / cls).mkdir()
        names = [f"clip_{cls}_f_cm_np1_fr_med_{i}.avi" for i in range(132 + (ci < 34))]
        for name in names:
            (root / cls / name).touch()
        for k in (1, 2, 3):
            order = names[30 * k :] + names[: 30 * k]
            codes = {n: "2" if i < 30 else "1" if i < 100 else "0" for i, n in enumerate(order)}
            text = "".join(f"{n} {codes[n]} \n" for n in names)
            (splits / f"{cls}_test_split{k}.txt").write_text(text)
    return root


def official_utd_mhad(root: Path) -> Path:
    """UTD-MHAD's listing: 27 actions x 8 subjects x 4 trials, less 3 missing = 861 (which
    three is arbitrary here)."""
    (root / "RGB").mkdir(parents=True)
    (root / "Inertial").mkdir()
    missing = {(8, 1, 4), (23, 6, 4), (27, 8, 4)}
    for a in range(1, 28):
        for s in range(1, 9):
            for t in range(1, 5):
                if (a, s, t) not in missing:
                    (root / "RGB" / f"a{a}_s{s}_t{t}_color.avi").touch()
                    (root / "Inertial" / f"a{a}_s{s}_t{t}_inertial.mat").touch()
    return root


def official_mmact(root: Path) -> Path:
    """MMAct (trimmed)'s listing: 20 subjects x 4 scenes x 5 sessions x 37 actions from 2
    of its 4 cameras (the recipe keeps cam1; a second camera shows the filter at work,
    the other two would only cost the suite time), and per subject, scene, session and
    action one CSV of each of the 4 IMU streams (the cameras share them). Every action in
    every scene and session: an upper bound of the published set (more than 36k clips)."""
    streams = ("acc_phone_clip", "acc_watch_clip", "gyro_clip", "orientation_clip")
    actions = [f"action_{a:02d}" for a in range(1, 38)]
    for s in range(1, 21):
        for x in range(1, 5):
            for y in range(1, 6):
                where = f"scene{x}/session{y}"
                folders = {f"trimmed/subject{s}/cam{c}/{where}": ".mp4" for c in (1, 2)}
                folders |= {f"{stream}/subject{s}/{where}": ".csv" for stream in streams}
                for folder, ext in folders.items():
                    (root / folder).mkdir(parents=True)
                    for action in actions:
                        (root / folder / f"{action}{ext}").touch()
    return root


def official_har_images(root: Path) -> Path:
    """The 15-class still-image HAR dataset's listing: ``Training_set.csv`` labels
    Image_1.jpg ... Image_12600.jpg of ``train/`` (840 per class, the classes interleaved),
    ``Testing_set.csv`` names Image_1.jpg ... Image_5400.jpg of ``test/`` without labels."""
    train, test = ([f"Image_{i}.jpg" for i in range(1, n + 1)] for n in (12600, 5400))
    for folder, names in (("train", train), ("test", test)):
        (root / folder).mkdir(parents=True)
        for name in names:
            (root / folder / name).touch()
    labels = [CLASSES_15[i % 15] for i in range(len(train))]
    pd.DataFrame({"filename": train, "label": labels}).to_csv(
        root / "Training_set.csv", index=False
    )
    pd.DataFrame({"filename": test}).to_csv(root / "Testing_set.csv", index=False)
    return root


def odd_classes_have_audio(video: Path) -> bool:
    """The audio probe on :func:`official_ucf101`'s zero-byte files (none has a track): the
    videos of the odd-numbered classes, Action001 ... Action101, have sound (51 of 101)."""
    return int(video.parent.name.removeprefix("Action")) % 2 == 1


#: recipe -> (writer of the full-size listing, samples the recipe keeps of it, the jobs of
#: a dry run once the manifest exists: each stage one job per shard, one training job per
#: variant, split and experiment). Every recipe: each test takes 15-25 s, most of it the
#: dry run's parse and DAG, but MMAct's: 30-75 s, its 118400 files written and scanned in
#: 6 to 30 s as the filesystem is busy
FULL_SIZE = {
    # 1330 videos of the listing's first 10 classes: ceil(1330 / 64) = 21 shards; 2
    # variants x 3 splits
    "ucf101_10_frame_cnn_vs_lstm": (
        official_ucf101,
        1330,
        {"extract_frames": 21, "train_variant": 6},
    ),
    # ceil(6766 / 64) = 106 shards of frames and of flow (the rgb stream fine-tunes from
    # the frames: no features cache); 3 variants x 3 splits
    "hmdb51_two_stream": (
        official_hmdb51,
        6766,
        {"extract_frames": 106, "compute_flow": 106, "train_variant": 9},
    ),
    # ceil(861 / 64) = 14 shards of frames and of IMU (extract_sample_files); one split: imu
    # and video 1 + 3 ratios, two_stage 1 + 3 ratios + 4 hidden-class runs (1 and 5 classes
    # x 2 modalities)
    "utd_mhad_s3d_imu_two_stage": (
        official_utd_mhad,
        861,
        {"extract_frames": 14, "extract_sample_files": 14, "train_variant": 16},
    ),
    # the cam1 videos (dataset.options.cameras), 20 x 4 x 5 x 37 = 14800: ceil(14800 / 64)
    # = 232 shards of frames and of IMU (the rgb streams fine-tune from the frames); 2
    # splits (cross_subject, cross_session) x (imu and video 1 + 3 ratios, two_stage 1 + 3
    # ratios + 4 hidden-class runs) = 2 x 16
    "mmact_s3d_imu_two_stage": (
        official_mmact,
        14800,
        {"extract_frames": 232, "extract_sample_files": 232, "train_variant": 32},
    ),
    # the videos of the 51 classes with sound (odd_classes_have_audio): class c of the
    # listing has 129 + [c <= 46] + [c <= 60] + [c <= 87] + [c <= 98] (each band's extra
    # clips go to its first cells), the odd c 51 x 129 + 23 + 30 + 44 + 49 = 6725;
    # ceil(6725 / 64) = 106 shards of frames, of frame_cnn features and of audio; 5
    # variants x 3 splits, no experiment but the full run
    "ucf51_audio_video_fusion": (
        official_ucf101,
        6725,
        {"extract_frames": 106, "extract_features": 106, "extract_audio": 106, "train_variant": 15},
    ),
    # 12600 labelled images and the 5400 unlabelled ones (processed for prediction, split
    # unused): ceil(18000 / 256) = 71 shards of frames (both variants fine-tune VGG16 on
    # them); 2 variants x 1 split (holdout), no experiment but the full run
    "har_images_vgg16": (
        official_har_images,
        18000,
        {"extract_frames": 71, "train_variant": 2},
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FULL_SIZE))
def test_dry_run_on_the_full_size_listing(name, tmp_path, monkeypatch):
    """The manifest stage on the full-size listing, then a dry run of the recipe as
    shipped but for its weights (the parse-time model check builds each model on torch's
    meta device: the recipe's shapes, no weights and no arithmetic)."""
    # zero-byte files have no audio track: UCF-51's probe is told which would have one (no
    # other layout probes)
    monkeypatch.setattr("harfuse.datasets.ucf51.probe_audio", odd_classes_have_audio)
    write, samples, jobs = FULL_SIZE[name]
    cfg = without_weights(recipe(name), write(tmp_path / "data"))
    out = tmp_path / "results" / name
    out.mkdir(parents=True)
    manifest.run(
        out / "manifest.parquet",
        out / "classes.json",
        out / "quarantine.parquet",
        cfg["dataset"],
        cfg["dataset"]["samples_per_shard"],
    )
    assert len(read_manifest(out / "manifest.parquet")) == samples
    write_config(tmp_path, cfg)
    counts = job_counts(snakemake(tmp_path, "--dry-run"))
    assert counts == {**jobs, "build_report": 1, "all": 1}
