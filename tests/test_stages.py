"""Stage modules on the tiny demo, without Snakemake."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harfuse.stages import features, frames, train
from harfuse.store.manifest import read_manifest, write_manifest
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.shards import ShardReader, read_feature_shard

from .conftest import AUDIO, FEATURES, FRAMES, INPUTS, TRAIN
from .helpers import damage_audio_packets, reencode


def test_manifest_stage(prepared):
    df = read_manifest(prepared / "manifest.parquet")
    assert len(df) == 12 and df["shard"].eq(0).all()
    assert df.groupby("cross_subject").size().to_dict() == {"test": 6, "train": 6}
    assert json.loads((prepared / "classes.json").read_text())[0] == "wave_whistle"


def test_shard_contents_and_provenance(prepared):
    fr = ShardReader(prepared / "frames.h5")
    clip = fr.read("a1_s1_t1", "frames")
    # 1.6-2.4 s at 8 fps, short side 32
    assert clip.dtype == np.uint8 and clip.shape[1:] == (32, 32, 3) and 12 <= len(clip) <= 20
    assert fr.params == FRAMES

    au = ShardReader(prepared / "audio.h5")
    mel, attrs = au.read("a1_s1_t1", "audio"), au.attrs("a1_s1_t1", "audio")
    assert mel.dtype == np.float16 and mel.shape[0] == 32
    assert bool(attrs["has_audio"]) and abs(mel.shape[1] - 1 - attrs["seconds"] * 50) <= 1
    assert attrs["packets_total"] > 0 and attrs["packets_skipped"] == attrs["seconds_lost"] == 0

    im = ShardReader(prepared / "imu.h5")
    window, attrs = im.read("a1_s1_t1", "imu"), im.attrs("a1_s1_t1", "imu")
    assert window.shape == (100, 6) and list(attrs["source_rates"]) == pytest.approx([100.0])
    valid = int(attrs["valid_length"])
    assert 80 <= valid <= 100 and not window[valid:].any()

    fl = ShardReader(prepared / "flow.h5")
    codes, attrs = fl.read("a1_s1_t1", "flow"), fl.attrs("a1_s1_t1", "flow")
    assert codes.dtype == np.uint8 and codes.shape == (len(clip) - 1, 32, 32, 2)
    assert attrs["bound"] == 20.0 and attrs["scale"] == pytest.approx(255 / 40)

    feats = read_feature_shard(prepared / "features.h5")
    assert feats["temporal"].shape == (12, 4, 512) and feats["pooled"].shape == (12, 512)
    assert feats["attrs"]["weights"] == "none (random init)" and feats["attrs"]["random_init"]
    for name in ("frames", "audio", "imu", "flow"):
        assert read_quarantine([quarantine_path(prepared / f"{name}.h5")]).empty


def test_random_init_features_are_the_same_every_run(prepared, tmp_path):
    import torch

    torch.manual_seed(1234)  # whatever the global RNG state, the seed in params decides
    params = {**FEATURES, "batch_size": 7}  # other batches, same features
    features.run(prepared / "frames.h5", tmp_path / "again.h5", params, "cpu")
    again = read_feature_shard(tmp_path / "again.h5")["temporal"]
    np.testing.assert_allclose(
        again, read_feature_shard(prepared / "features.h5")["temporal"], rtol=1e-5, atol=1e-5
    )


def test_features_stage_with_a_video_backbone(prepared, tmp_path):
    params = {**FEATURES, "encoder": "r3d_18"}
    features.run(prepared / "frames.h5", tmp_path / "clips.h5", params, "cpu")
    shard = read_feature_shard(tmp_path / "clips.h5")
    assert shard["temporal"].shape == (12, 1, 512) and shard["pooled"].shape == (12, 512)
    assert shard["attrs"]["encoder"] == "r3d_18"


def run_training(
    prepared: Path,
    out: Path,
    variant: str,
    spec: dict,
    experiment: dict | None = None,
    manifest_path: Path | None = None,
    **train_,
) -> dict:
    shards = {
        m: [str(prepared / f"{n}.h5")]
        for m, n in (("rgb", "features"), ("flow", "flow"), ("audio", "audio"), ("imu", "imu"))
    }
    train.run(
        manifest_path or prepared / "manifest.parquet",
        prepared / "classes.json",
        shards,
        variant,
        spec,
        "cross_subject",
        experiment or {"name": "full"},
        {**TRAIN, **train_},
        INPUTS,
        "cpu",
        out,
    )
    return json.loads((out / "metrics.json").read_text())


ALL_MODALITIES = ["rgb", "flow", "audio", "imu"]


@pytest.mark.parametrize(
    "spec",
    [
        {"model": "mid", "modalities": ALL_MODALITIES},
        {"model": "early", "modalities": ALL_MODALITIES},
        {"model": "late", "modalities": ["rgb", "imu"], "options": {"combine": "meta"}},
        {"model": "two_stage", "modalities": ["rgb", "imu"]},
        {
            "model": "single",
            "modalities": ["rgb"],
            "options": {"encoders": {"rgb": "feature_lstm"}},
        },
    ],
    ids=lambda spec: spec["model"],
)
def test_training_is_deterministic_on_cpu(prepared, tmp_path, spec):
    # a validation split needs two training samples of a class: s2's a1-a4 train too
    df = read_manifest(prepared / "manifest.parquet")
    df.loc[df["sample_id"].str.match(r"a[1-4]_s2"), "cross_subject"] = "train"
    write_manifest(df, tmp_path / "manifest.parquet", ["cross_subject"])
    # b reads every input from its shard each epoch, a keeps them (train.params.cache_mb)
    runs = [
        run_training(
            prepared,
            tmp_path / d,
            "v",
            spec,
            None,
            tmp_path / "manifest.parquet",
            val_fraction=0.5,
            cache_mb=cache_mb,
        )
        for d, cache_mb in (("a", 512), ("b", 0))
    ]
    assert runs[0] == runs[1]
    import torch

    a, b = (torch.load(tmp_path / d / "model.pt", weights_only=True) for d in ("a", "b"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (runs[0]["n_train"], runs[0]["n_val"], runs[0]["n_test"]) == (6, 4, 2)
    description = json.loads((tmp_path / "a" / "model.json").read_text())
    assert description["shapes"]["rgb"] == [4, 512]
    # the run says where its figures hold: this machine, these versions, this thread count
    assert runs[0]["torch_threads"] == 1 and "torch " in runs[0]["environment"]


def test_training_threads_are_a_parameter_of_the_run(prepared, tmp_path):
    """The torch thread count comes from train.params.threads (metrics move with it), not
    from the cores the scheduler gives the job, and is recorded with the metrics."""
    import torch

    before = torch.get_num_threads()
    try:
        metrics = run_training(
            prepared, tmp_path, "v", {"model": "single", "modalities": ["imu"]}, threads=2
        )
        assert torch.get_num_threads() == 2 and metrics["torch_threads"] == 2
    finally:
        torch.set_num_threads(before)


def test_hidden_class_experiment_withholds_classes_from_one_modality(prepared, tmp_path):
    spec = {"model": "two_stage", "modalities": ["rgb", "imu"]}
    experiment = {"name": "hidden2_imu", "hidden": "imu", "count": 2}
    metrics = run_training(prepared, tmp_path, "two_stage", spec, experiment)
    assert metrics["experiment"] == "hidden2_imu" and len(metrics["hidden_classes"]) == 2
    assert 0 <= metrics["top1_hidden"] <= 1 and 0 <= metrics["top1_seen"] <= 1
    description = json.loads((tmp_path / "model.json").read_text())
    hidden = description["options"]["hidden_classes"]["imu"]
    assert [description["classes"][i] for i in hidden] == metrics["hidden_classes"]
    phases = {row["phase"] for row in metrics["history"]}
    assert phases == {"pretrain_imu", "pretrain_rgb", "fuse"}


def test_ratio_experiment_and_validation_split(prepared, tmp_path):
    rows = pd.DataFrame({"sample_id": [f"s{i}" for i in range(32)], "label_idx": np.arange(32) % 4})
    quarter = train.experiment_rows(rows, {"name": "ratio25", "ratio": 0.25}, seed=0)
    assert np.bincount(quarter["label_idx"]).tolist() == [2, 2, 2, 2]
    assert train.experiment_rows(rows, {"name": "full"}, seed=0) is rows
    spec = {"model": "single", "modalities": ["imu"]}
    full = run_training(prepared, tmp_path / "full", "imu", spec, val_fraction=0.0)
    assert full["n_train"] == 6 and full["n_val"] == 0
    # one training sample per class: the validation split cannot take a class's last one
    kept = run_training(prepared, tmp_path / "val", "imu", spec, val_fraction=0.5)
    assert kept["n_train"] == 6 and kept["n_val"] == 0
    with pytest.raises(ValueError, match=r"leaves no validation sample"):
        run_training(
            prepared,
            tmp_path / "meta",
            "late",
            {"model": "late", "modalities": ["imu", "rgb"], "options": {"combine": "meta"}},
        )


def test_training_quarantines_samples_missing_a_modality(prepared, tmp_path):
    import h5py

    broken = tmp_path / "imu.h5"
    broken.write_bytes((prepared / "imu.h5").read_bytes())
    with h5py.File(broken, "a") as f:
        del f["a2_s2_t1"]
    shards = {"imu": [str(broken)]}
    train.run(
        prepared / "manifest.parquet",
        prepared / "classes.json",
        shards,
        "imu",
        {"model": "single", "modalities": ["imu"]},
        "cross_subject",
        {"name": "full"},
        TRAIN,
        INPUTS,
        "cpu",
        tmp_path / "run",
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_test"] == 5
    q = read_quarantine([tmp_path / "run" / "quarantine.parquet"])
    assert q["sample_id"].tolist() == ["a2_s2_t1"] and "no imu" in q["reason"][0]


def test_training_records_test_samples_lacking_a_modality(prepared, tmp_path):
    """metrics.json's test_lacking: test samples without IMU are left out (missing), test
    clips without an audio track are evaluated on silence (no_track)."""
    import h5py

    for name in ("imu.h5", "audio.h5", "manifest.parquet", "classes.json"):
        (tmp_path / name).write_bytes((prepared / name).read_bytes())
    with h5py.File(tmp_path / "imu.h5", "a") as f:
        del f["a2_s2_t1"]  # a test sample (s2 tests)
        del f["a1_s1_t1"]  # a training sample: not counted
    with h5py.File(tmp_path / "audio.h5", "a") as f:
        for sid in ("a3_s2_t1", "a4_s2_t1", "a5_s1_t1"):  # two test samples, one training
            f[sid]["audio"].attrs["has_audio"] = False
    metrics = run_training(
        tmp_path,
        tmp_path / "run",
        "audio_imu",
        {"model": "mid", "modalities": ["audio", "imu"]},
    )
    assert (metrics["n_test"], metrics["n_test_dropped"]) == (5, 1)
    assert metrics["test_lacking"] == {
        "audio": {"missing": 0, "no_track": 2},
        "imu": {"missing": 1},
    }
    imu_only = run_training(
        tmp_path,
        tmp_path / "imu",
        "imu",
        {"model": "single", "modalities": ["imu"]},
    )
    assert imu_only["test_lacking"] == {"imu": {"missing": 1}}


def test_bad_video_is_quarantined_by_frames_stage(prepared, tmp_path):
    df = read_manifest(prepared / "manifest.parquet")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    df.loc[df.sample_id == "a1_s1_t1", "video_path"] = str(bad)
    write_manifest(df, tmp_path / "m.parquet", ["cross_subject"])
    frames.run(tmp_path / "m.parquet", 0, tmp_path / "frames.h5", {"fps": 8.0, "size": 16}, "skip")
    assert "a1_s1_t1" not in ShardReader(tmp_path / "frames.h5").sample_ids()
    q = read_quarantine([quarantine_path(tmp_path / "frames.h5")])
    assert q["sample_id"].tolist() == ["a1_s1_t1"] and "broken.mp4" in q["reason"][0]


def test_audio_stage_keeps_audio_past_damaged_packets_and_records_the_loss(
    prepared, tmp_path, caplog
):
    """The field report: AC3 audio in AVI whose first packet does not decode. The audio is
    kept with the loss in its attributes; audio with no decodable packet is quarantined;
    ``harfuse predict`` reads the damaged clip as the stage stored it."""
    from types import SimpleNamespace

    from harfuse.predict import load_media
    from harfuse.preprocess.audio import log_mel_spectrogram
    from harfuse.stages import audio

    df = read_manifest(prepared / "manifest.parquet")
    source = df.set_index("sample_id").loc["a1_s1_t1", "audio_path"]
    intact = reencode(source, tmp_path / "intact.avi", "mpeg4", "ac3", "avi")
    packets = damage_audio_packets(intact, tmp_path / "first.avi", [0])
    damage_audio_packets(intact, tmp_path / "all.avi")
    for sid, name in (("a1_s1_t1", "intact"), ("a2_s1_t1", "first"), ("a3_s1_t1", "all")):
        df.loc[df.sample_id == sid, "audio_path"] = str(tmp_path / f"{name}.avi")
    write_manifest(df, tmp_path / "m.parquet", ["cross_subject"])
    audio.run(tmp_path / "m.parquet", 0, tmp_path / "audio.h5", AUDIO, "skip")

    shard = ShardReader(tmp_path / "audio.h5")
    good, bad = shard.attrs("a1_s1_t1", "audio"), shard.attrs("a2_s1_t1", "audio")
    assert good["packets_total"] == packets and good["packets_skipped"] == good["seconds_lost"] == 0
    assert bool(bad["has_audio"]) and bad["seconds"] == pytest.approx(good["seconds"])
    assert (bad["packets_total"], bad["packets_skipped"]) == (packets, 1)
    assert bad["seconds_lost"] == pytest.approx(1536 / 48000)  # one AC3 frame at 48 kHz
    assert "first.avi: skipped 1 of" in caplog.text
    q = read_quarantine([quarantine_path(tmp_path / "audio.h5")])
    assert q["sample_id"].tolist() == ["a3_s1_t1"]
    assert "all.avi: no audio packet decodes" in q["reason"][0]

    prep = {"audio": AUDIO}
    trained = SimpleNamespace(preprocessing=prep, modalities=["audio"], description={})
    media = load_media(tmp_path / "first.avi", trained)
    mel, _ = log_mel_spectrogram(media.wave, AUDIO)
    np.testing.assert_array_equal(mel, shard.read("a2_s1_t1", "audio"))


def test_the_cache_budget_is_shared_by_the_modalities_that_keep_inputs(prepared):
    """``cache_mb`` split evenly among the sources that keep their inputs: features and
    IMU halves each; with a fine-tuned backbone, whose clips are never kept, IMU gets all."""
    from harfuse.stages.train import build_sources

    shards = {"rgb": [str(prepared / "features.h5")], "imu": [str(prepared / "imu.h5")]}
    halves = build_sources(shards, INPUTS, cache_mb=8)
    assert halves["rgb"].cache.max_bytes == halves["imu"].cache.max_bytes == 4 * 2**20
    backbone = {"arch": "r3d_18", "weights": "none", "input_size": [32, 32], "num_frames": 4}
    clips = build_sources(
        {**shards, "rgb": [str(prepared / "frames.h5")]}, INPUTS, backbone, cache_mb=8
    )
    assert not hasattr(clips["rgb"], "cache") and clips["imu"].cache.max_bytes == 8 * 2**20


def test_dataset_with_dataloader_workers(prepared):
    import torch
    from torch.utils.data import DataLoader

    from harfuse.data.dataset import MultiModalDataset
    from harfuse.stages.train import build_sources

    shards = {
        "flow": [str(prepared / "flow.h5")],
        "imu": [str(prepared / "imu.h5")],
        "audio": [str(prepared / "audio.h5")],
        "rgb": [str(prepared / "features.h5")],
    }
    df = read_manifest(prepared / "manifest.parquet")
    data = MultiModalDataset(df["sample_id"], df["label_idx"], build_sources(shards, INPUTS))
    serial = [data[i] for i in range(len(data))]
    loader = DataLoader(data, batch_size=4, num_workers=2, multiprocessing_context="fork")
    batches = list(loader)
    assert sum(len(b["label"]) for b in batches) == 12
    first = batches[0]
    assert first["flow"].shape == (4, 4, 32, 32, 2) and first["imu"].shape == (4, 100, 6)
    assert first["audio"].shape == (4, 32, 60) and first["rgb"].shape == (4, 4, 512)
    torch.testing.assert_close(first["imu"][1], serial[1]["imu"])


def test_imu_statistics_come_from_the_training_split_only(prepared, tmp_path):
    from harfuse.modalities.imu import MODALITY as IMU
    from harfuse.modalities.imu import imu_channel_stats, standardised

    df = read_manifest(prepared / "manifest.parquet")
    train_ids = list(df.loc[df["cross_subject"] == "train", "sample_id"])
    test_ids = list(df.loc[df["cross_subject"] == "test", "sample_id"])
    raw = IMU.source([prepared / "imu.h5"], {})
    mean, std = imu_channel_stats(raw, train_ids)
    assert mean.shape == std.shape == (6,)
    # merged window by window: the statistics of all the valid steps at once
    reader = ShardReader(prepared / "imu.h5")
    every = np.concatenate(
        [reader.read(s, "imu")[: int(reader.attrs(s, "imu")["valid_length"])] for s in train_ids]
    ).astype(np.float64)
    np.testing.assert_allclose(mean, every.mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(std, every.std(0), rtol=1e-6)
    assert not np.allclose(mean, imu_channel_stats(raw, test_ids)[0])
    source = standardised(raw, mean, std)
    steps = np.concatenate(
        [
            source(s)[: int(ShardReader(prepared / "imu.h5").attrs(s, "imu")["valid_length"])]
            for s in train_ids
        ]
    )
    np.testing.assert_allclose(steps.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(steps.std(0), 1, atol=1e-3)
    run_training(prepared, tmp_path, "imu", {"model": "single", "modalities": ["imu"]})
    saved = json.loads((tmp_path / "model.json").read_text())["normalisation"]["imu"]
    np.testing.assert_allclose(saved["mean"], mean, rtol=1e-6)


def test_absent_classes_say_why_a_class_has_no_test_sample():
    manifest = pd.DataFrame(
        {
            "sample_id": ["t1", "t2", "w1", "w2", "c1"],
            "label": ["talking", "talking", "walking", "walking", "cycling"],
            "split1": ["test", "train", "test", "test", "train"],
        }
    )
    evaluated = manifest[manifest["sample_id"] == "t1"]  # the walking clips lost their pose
    assert train.absent_classes(
        manifest, evaluated, "split1", ["cycling", "talking", "walking"]
    ) == {
        "cycling": "no test sample in the split",
        "walking": "all 2 of its test samples lack a modality of the run",
    }


def test_a_run_without_samples_says_which_modality_its_stage_quarantined(tmp_path):
    from harfuse.runlog import DataError
    from harfuse.store.quarantine import write_quarantine

    manifest = pd.DataFrame(
        {"sample_id": ["a", "b", "c"], "label": ["x", "y", "x"], "s1": ["train", "test", "train"]}
    )
    shard = tmp_path / "imu" / "shard-0.h5"
    write_quarantine(
        quarantine_path(shard),
        [{"sample_id": s, "stage": "imu", "reason": f"{s}.csv: unparseable"} for s in "abc"],
    )
    missing = [{"sample_id": s, "stage": "train", "reason": f"no imu for {s}"} for s in "abc"]
    empty = manifest.iloc[:0]
    rows = train.Rows(empty, empty, empty, empty, missing)
    message = train.no_samples_message("imu", "s1", manifest, rows, {"imu": [str(shard)]})
    assert message.splitlines() == [
        "variant imu, split s1: 0 training and 0 test samples have every modality of the "
        "variant (imu)",
        "imu: 3 of the split's 3 samples have none (its stage quarantined them; the first "
        "reason: a.csv: unparseable); see the quarantine tables (harfuse inspect)",
    ]
    assert issubclass(DataError, ValueError)
