"""``harfuse predict`` and ``harfuse inspect`` on the tiny demo, with a model trained here."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harfuse import cli
from harfuse.media.decode import iter_frames_at_fps
from harfuse.stages import train
from harfuse.store.manifest import read_manifest

from .conftest import FRAMES, INPUTS, run_stages
from .helpers import reencode

SPEC = {"model": "mid", "modalities": ["rgb", "flow", "audio"]}


#: stage shard of each modality in the ``prepared`` fixture
SHARD_OF = {"rgb": "features", "flow": "flow", "audio": "audio", "imu": "imu"}


def train_model(prepared: Path, out: Path, variant: str, spec: dict, **train_):
    """Train ``spec`` on the prepared tiny demo into ``out``, as the train stage does."""
    train.run(
        prepared / "manifest.parquet",
        prepared / "classes.json",
        {m: [str(prepared / f"{SHARD_OF[m]}.h5")] for m in spec["modalities"]},
        variant,
        spec,
        "cross_subject",
        {"name": "full"},
        {"val_fraction": 0, **train_},
        INPUTS,
        "cpu",
        out,
    )
    return out


@pytest.fixture(scope="module")
def model_dir(prepared, tmp_path_factory) -> Path:
    """A mid-fusion model over rgb, flow and audio, as the workflow writes it."""
    return train_model(
        prepared,
        tmp_path_factory.mktemp("model"),
        "mid_fusion",
        SPEC,
        epochs=60,
        batch_size=6,
        lr=3e-3,
        weight_decay=0.0,
        seed=0,
    )


@pytest.fixture(scope="module")
def manifest(prepared) -> pd.DataFrame:
    return read_manifest(prepared / "manifest.parquet")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def predict_json(capsys, model_dir, *videos, extra=()) -> dict:
    status, out, err = run_cli(capsys, "predict", *videos, "--model", model_dir, "--json", *extra)
    assert status == 0, err
    return json.loads(out)


def test_predict_repeats_the_workflow_preprocessing(capsys, model_dir, manifest):
    """predict's probabilities equal the train stage's predictions for the test videos."""
    expected = pd.read_parquet(model_dir / "predictions.parquet").set_index("sample_id")
    classes = json.loads((model_dir / "model.json").read_text())["classes"]
    test = manifest[manifest["cross_subject"] == "test"]
    doc = predict_json(capsys, model_dir, *test["video_path"], extra=("--top", str(len(classes))))
    for (sid, _), video in zip(test.set_index("sample_id").iterrows(), doc["videos"], strict=True):
        got = {t["label"]: t["probability"] for t in video["top"]}
        want = expected.loc[sid, [f"prob_{c}" for c in classes]].to_numpy(float)
        np.testing.assert_allclose([got[c] for c in classes], want, atol=2e-4)


def test_top1_on_clearly_separable_samples(capsys, model_dir, manifest):
    """The training videos, which the model separates, get their own label."""
    rows = manifest[manifest["cross_subject"] == "train"]
    doc = predict_json(capsys, model_dir, *rows["video_path"])
    assert [v["top"][0]["label"] for v in doc["videos"]] == list(rows["label"])
    assert all(len(v["top"]) == 5 for v in doc["videos"])
    status, out, _ = run_cli(capsys, "predict", rows["video_path"].iloc[0], "--model", model_dir)
    assert status == 0 and f"1. {rows['label'].iloc[0]}" in out


@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_timeline_covers_the_whole_video(capsys, model_dir, manifest, tmp_path, suffix):
    video = manifest["video_path"].iloc[0]
    timeline = tmp_path / f"timeline{suffix}"
    doc = predict_json(
        capsys,
        model_dir,
        video,
        extra=("--window", "0.5", "--stride", "0.25", "--timeline", timeline),
    )
    rows = (
        pd.read_csv(timeline)
        if suffix == ".csv"
        else pd.DataFrame(json.loads(timeline.read_text()))
    )
    duration = doc["videos"][0]["duration_s"]
    assert rows["start_s"].iloc[0] == 0 and rows["end_s"].iloc[-1] == pytest.approx(
        duration, abs=1e-3
    )
    assert (rows["start_s"].iloc[1:].to_numpy() <= rows["end_s"].iloc[:-1].to_numpy()).all()
    assert ((rows["end_s"] - rows["start_s"]) <= 0.5 + 1e-9).all() and len(rows) >= 4
    assert set(rows["label"]) <= set(json.loads((model_dir / "model.json").read_text())["classes"])
    assert {"top1", "p1", "top5", "p5"} <= set(rows.columns)


def test_overlay_writes_the_labelled_video(capsys, model_dir, manifest, tmp_path):
    video = manifest["video_path"].iloc[0]
    out = tmp_path / "labelled.mp4"
    status, _, err = run_cli(
        capsys, "predict", video, "--model", model_dir, "--overlay", out, "--window", "1"
    )
    assert status == 0, err
    source = [f for _, f in iter_frames_at_fps(video, 15.0)]
    written = [f for _, f in iter_frames_at_fps(out, 15.0)]
    assert len(written) == len(source) and written[0].shape == source[0].shape
    # the label box is drawn in the top-left corner, the rest is the video
    assert np.abs(written[0][:8, :20].astype(int) - source[0][:8, :20]).mean() > 20
    assert np.abs(written[0][-16:, -16:].astype(int) - source[0][-16:, -16:]).mean() < 8


def test_other_containers_and_bad_files(capsys, model_dir, manifest, tmp_path):
    src = manifest["video_path"].iloc[0]
    avi = reencode(src, tmp_path / "clip.avi", "mpeg4", "mp3", "avi")
    mts = reencode(src, tmp_path / "clip.MTS", "libx264", "aac", "mpegts")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.avi"
    text.write_text("not a video")
    silent = reencode(src, tmp_path / "silent.mp4", "libx264", "aac", "mp4", audio=False)
    status, out, err = run_cli(
        capsys,
        "predict",
        avi,
        empty,
        mts,
        text,
        silent,
        tmp_path / "missing.mp4",
        "--model",
        model_dir,
    )
    assert status == cli.SOME_FAILED
    assert f"{avi} (" in out and f"{mts} (" in out  # the good files were predicted
    errors = err.strip().splitlines()
    assert len(errors) == 3 and all(line.startswith("harfuse: error: ") for line in errors)
    assert f"{empty}: cannot open" in err and f"{text}: cannot open" in err
    # no audio track is silence, as the audio stage stores it for training
    assert f"{silent} (" in out
    assert f"{tmp_path / 'missing.mp4'}: no such file" in err


def test_model_folder_errors(capsys, model_dir, manifest, tmp_path):
    video = manifest["video_path"].iloc[0]
    status, _, err = run_cli(capsys, "predict", video, "--model", tmp_path)
    assert status == cli.USAGE and f"{tmp_path / 'model.json'}: missing" in err
    status, _, err = run_cli(capsys, "predict", video, "--model", model_dir, "--timeline", "t.csv")
    assert status == cli.USAGE and "--timeline needs --window" in err
    status, _, err = run_cli(
        capsys, "predict", video, "--model", model_dir, "--window", "1", "--stride", "2"
    )
    assert status == cli.USAGE and "would leave gaps" in err  # bad arguments: exit 2


def test_video_without_audio_for_a_model_without_audio(capsys, prepared, manifest, tmp_path):
    flow_model = train_model(
        prepared,
        tmp_path / "flow",
        "flow",
        {"model": "single", "modalities": ["flow"]},
        epochs=2,
    )
    silent = reencode(
        manifest["video_path"].iloc[0],
        tmp_path / "silent.mp4",
        "libx264",
        "aac",
        "mp4",
        audio=False,
    )
    doc = predict_json(capsys, flow_model, silent)
    assert len(doc["videos"]) == 1 and len(doc["videos"][0]["top"]) == 5


def test_imu_models_need_imu(capsys, prepared, manifest, tmp_path):
    spec = {"model": "single", "modalities": ["imu"]}
    train_model(prepared, tmp_path, "imu", spec, epochs=1)
    status, _, err = run_cli(capsys, "predict", manifest["video_path"].iloc[0], "--model", tmp_path)
    assert (
        status == cli.SOME_FAILED and "model imu needs imu, which a video file does not have" in err
    )


def test_inspect_shards_and_tables(capsys, prepared, tmp_path):
    status, out, _ = run_cli(capsys, "inspect", prepared / "frames.h5", "--json")
    summary = json.loads(out)
    assert status == 0 and summary["kind"] == "shard" and summary["samples"] == 12
    assert summary["attrs"]["stage"] == "frames" and summary["attrs"]["params"] == FRAMES
    first = next(iter(summary["first_samples"].values()))
    assert first["frames"]["shape"][1:] == [32, 32, 3] and first["frames"]["attrs"]["fps"] == 8.0
    status, out, _ = run_cli(capsys, "inspect", prepared / "features.h5")
    assert status == 0 and "samples: 12" in out and "temporal:" in out
    status, out, _ = run_cli(capsys, "inspect", prepared / "manifest.parquet", "--json")
    summary = json.loads(out)
    assert summary["kind"] == "manifest" and summary["classes"] == 6
    assert summary["splits"] == {"cross_subject": {"train": 6, "test": 6}}
    assert summary["modalities"] == ["audio", "flow", "imu", "rgb", "skeleton"]
    status, out, _ = run_cli(capsys, "inspect", prepared / "quarantine.parquet")
    assert status == 0 and "kind: quarantine" in out and "rows: 0" in out
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    status, _, err = run_cli(capsys, "inspect", bad)
    assert status == cli.USAGE and f"{bad}: not a readable HDF5 file" in err
    status, _, err = run_cli(capsys, "inspect", tmp_path / "x.txt")
    assert status == cli.USAGE and "no such file" in err


def test_help_documents_every_option():
    parser = cli._parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        for action in sub._actions:
            assert action.help and action.help != argparse.SUPPRESS, (name, action.dest)
            for option in action.option_strings:
                assert option in text, (name, option)
    out = subprocess.run(
        [sys.executable, "-m", "harfuse.cli", "predict", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "--window S" in out and "--overlay OUT" in out and "Exit status" in out


def test_folders_globs_overlay_names_and_json_failures(capsys, model_dir, manifest, tmp_path):
    """Folders and quoted globs expand to their video files; overlays of videos with the
    same stem get distinct names and never replace a file; failures are in the JSON."""
    import shutil

    src = manifest["video_path"].iloc[0]
    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        shutil.copy(src, tmp_path / "in" / sub / "clip.mp4")
    (tmp_path / "in" / "notes.txt").write_text("not a video")  # not a media file: skipped
    (tmp_path / "empty").mkdir()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"")
    overlays = tmp_path / "overlays"
    overlays.mkdir()
    (overlays / "clip.mp4").write_bytes(b"an earlier overlay")
    status, out, err = run_cli(
        capsys,
        *("predict", tmp_path / "in", f"{tmp_path}/in/*/clip.mp4", tmp_path / "empty", broken),
        *("--model", model_dir, "--json", "--overlay", overlays),
    )
    assert status == cli.SOME_FAILED
    doc = json.loads(out)
    videos = [v["video"] for v in doc["videos"]]
    # the folder and the pattern name the same two files: each is predicted once
    assert videos == [str(tmp_path / "in" / s / "clip.mp4") for s in ("a", "b")]
    assert sorted(p.name for p in overlays.iterdir()) == ["clip-2.mp4", "clip-3.mp4", "clip.mp4"]
    assert (overlays / "clip.mp4").read_bytes() == b"an earlier overlay"
    failed = {e["video"]: e["error"] for e in doc["errors"]}
    assert failed[str(tmp_path / "empty")] == "no video or image file in this folder"
    assert "cannot open" in failed[str(broken)] and len(failed) == 2
    assert err.count("harfuse: error: ") == 2


def test_overlay_paths_and_patterns_without_matches(tmp_path):
    one = cli.overlay_paths([Path("x/clip.MTS")], tmp_path / "one.mkv")
    assert one == {Path("x/clip.MTS"): tmp_path / "one.mkv"}  # one video: OUT is the file
    files, errors = cli.expand_inputs([f"{tmp_path}/*.mp4", str(tmp_path / "missing.mp4")])
    assert files == [tmp_path / "missing.mp4"]  # a plain path: predict says "no such file"
    assert errors == [(f"{tmp_path}/*.mp4", "no file matches this pattern")]


def test_inspect_a_model_folder_predictions_and_jpeg_frames(capsys, model_dir, tmp_path, demo_root):
    """inspect summarises a run folder (or its model.json) and its predictions.parquet,
    shows JPEG frames as T x H x W x 3, and fails with one clean line on anything else."""
    for target in (model_dir, model_dir / "model.json"):
        status, out, err = run_cli(capsys, "inspect", target, "--json")
        summary = json.loads(out)
        assert status == cli.OK and summary["kind"] == "model", err
        assert summary["variant"] == "mid_fusion" and len(summary["classes"]) == 6
        assert summary["preprocessing"]["frames"] == FRAMES and "top1" in summary["metrics"]
    # a fine-tuned backbone is described as the report describes it (plan.describe_backbone)
    tuned = tmp_path / "tuned"
    tuned.mkdir()
    description = json.loads((model_dir / "model.json").read_text())
    description["options"]["backbone"] = {"arch": "resnet50", "init_from": "frame_cnn"}
    description["options"]["backbone"]["blocks"] = "none"
    (tuned / "model.json").write_text(json.dumps(description))
    status, out, _ = run_cli(capsys, "inspect", tuned, "--json")
    assert json.loads(out)["rgb"] == (
        "resnet50 on the frames, from the weights variant frame_cnn fine-tuned on the same "
        "split, frozen (only what reads its features trains)"
    )
    status, out, _ = run_cli(capsys, "inspect", model_dir / "predictions.parquet", "--json")
    summary = json.loads(out)
    expected = pd.read_parquet(model_dir / "predictions.parquet")
    assert summary["kind"] == "predictions" and summary["samples"] == len(expected)
    assert summary["top1"] == round((expected["pred_idx"] == expected["label_idx"]).mean(), 4)

    # the prepared shards store raw frames; the same stages with JPEG storage
    jpeg = run_stages(demo_root, tmp_path / "jpeg", {**FRAMES, "storage": "jpeg"}) / "frames.h5"
    status, out, _ = run_cli(capsys, "inspect", jpeg, "--json")
    first = next(iter(json.loads(out)["first_samples"].values()))["frames"]
    assert first["shape"][1:] == [32, 32, 3] and "JPEG" in first["dtype"]
    status, _, err = run_cli(capsys, "inspect", tmp_path)
    assert status == cli.USAGE and err.count("\n") == 1 and "not an HDF5 shard" in err
