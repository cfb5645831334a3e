"""Real-world inputs: every container the pipeline claims, and every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harfuse.media.decode import read_audio
from harfuse.media.encode import write_video
from harfuse.media.frames import FrameParams, extract_frames
from harfuse.stages import frames as frames_stage
from harfuse.stages import sample_files
from harfuse.store.manifest import assign_shards, write_manifest
from harfuse.store.quarantine import quarantine_path, read_quarantine
from harfuse.store.shards import ShardReader

# (extension, video codec, audio codec, container format, audio rate)
CONTAINERS = [
    (".mp4", "libx264", "aac", None, 16000),
    (".avi", "mpeg4", "mp3", None, 16000),
    (".MTS", "libx264", "aac", "mpegts", 48000),
    (".m2ts", "libx264", "aac", "mpegts", 48000),
    (".mkv", "libx264", "aac", None, 16000),
    (".mov", "libx264", "aac", None, 16000),
    (".webm", "libvpx-vp9", "libopus", None, 48000),
]


def clip(n: int = 20, h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (n, h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(("ext", "vcodec", "acodec", "fmt", "rate"), CONTAINERS)
def test_every_container_decodes_frames_and_audio(tmp_path, ext, vcodec, acodec, fmt, rate):
    path = tmp_path / f"clip{ext}"
    seconds = 2.0
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)
    write_video(
        path,
        clip(),
        10.0,
        tone.astype(np.float32),
        rate,
        codec=vcodec,
        audio_codec=acodec,
        container_format=fmt,
    )
    frames = extract_frames(path, FrameParams(fps=5.0, size=24))
    assert frames.shape[1:] == (24, 32, 3) and abs(len(frames) - 10) <= 1
    wave = read_audio(path, 16000)
    assert wave is not None and abs(len(wave) / 16000 - seconds) < 0.15


def write_rows(tmp_path: Path, rows: list[dict]) -> Path:
    df = pd.DataFrame(rows)
    for column in ("video_path", "audio_path", "imu_path", "image_path"):
        df[column] = df.get(column, "")
        df[column] = df[column].fillna("")
    df = df.assign(label="x", label_idx=0, subject=1, split="train")
    path = tmp_path / "manifest.parquet"
    write_manifest(assign_shards(df, 100), path, ["split"])
    return path


def test_bad_videos_are_quarantined_and_the_rest_go_on(tmp_path):
    good = tmp_path / "good.mp4"
    write_video(good, clip(), 10.0)
    (tmp_path / "zero.mp4").write_bytes(b"")
    (tmp_path / "text.avi").write_text("not a video at all\n" * 20)
    data = good.read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 3])
    header = bytearray(data)
    header[:64] = np.random.default_rng(1).integers(0, 255, 64, dtype=np.uint8).tobytes()
    (tmp_path / "corrupt.mp4").write_bytes(bytes(header))
    audio_only = tmp_path / "audio_only.mp4"
    import av

    with av.open(str(audio_only), "w") as out:
        stream = out.add_stream("aac", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
        )
        frame.sample_rate = 16000
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    names = ["good", "zero", "text", "truncated", "corrupt", "audio_only"]
    exts = {"text": ".avi"}
    rows = [
        {"sample_id": n, "video_path": str(tmp_path / f"{n}{exts.get(n, '.mp4')}")} for n in names
    ]
    manifest = write_rows(tmp_path, rows)
    out = tmp_path / "frames.h5"
    frames_stage.run(manifest, 0, out, {"fps": 5.0, "size": 16}, "skip")
    assert ShardReader(out).sample_ids() == ["good"]
    reasons = read_quarantine([quarantine_path(out)]).set_index("sample_id")["reason"]
    assert sorted(reasons.index) == sorted(names[1:])
    assert "zero.mp4" in reasons["zero"] and "text.avi" in reasons["text"]
    assert "no video stream" in reasons["audio_only"]
    with pytest.raises(Exception, match=r"zero\.mp4"):
        frames_stage.run(manifest, 0, tmp_path / "f2.h5", {"fps": 5.0, "size": 16}, "fail")
    assert not (tmp_path / "f2.h5").exists()


def test_bad_imu_files_are_quarantined(tmp_path):
    good = tmp_path / "good.csv"
    t = np.arange(200) / 100
    pd.DataFrame({"time_s": t, "acc_x": np.sin(t)}).to_csv(good, index=False)
    (tmp_path / "nan.csv").write_text("time_s,acc_x\n0,1\n0.01,nan\n0.02,2\n")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header_only.csv").write_text("time_s,acc_x\n")
    (tmp_path / "broken.mat").write_bytes(b"MATLAB? no")
    names = {
        "good": "good.csv",
        "nan": "nan.csv",
        "empty": "empty.csv",
        "header_only": "header_only.csv",
        "broken": "broken.mat",
    }
    manifest = write_rows(
        tmp_path, [{"sample_id": k, "imu_path": str(tmp_path / v)} for k, v in names.items()]
    )
    out = tmp_path / "imu.h5"
    sample_files.run(manifest, 0, out, "imu", {"rate": 50.0, "window": 120}, "skip")
    reader = ShardReader(out)
    assert reader.sample_ids() == ["good"]
    assert int(reader.attrs("good", "imu")["valid_length"]) == 100  # 2 s at 50 Hz
    reasons = read_quarantine([quarantine_path(out)]).set_index("sample_id")["reason"]
    assert "non-finite values" in reasons["nan"]
    assert "not a readable CSV" in reasons["empty"]
    assert "0 rows" in reasons["header_only"]
    assert "broken.mat" in reasons["broken"]


def test_video_without_audio_is_recorded_not_an_error(tmp_path):
    from harfuse.modalities.audio import MODALITY as AUDIO
    from harfuse.stages import audio as audio_stage

    silent, loud = tmp_path / "silent.mp4", tmp_path / "loud.mp4"
    write_video(silent, clip(), 10.0)
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(32000) / 16000)).astype(np.float32)
    write_video(loud, clip(), 10.0, tone, 16000)
    manifest = write_rows(
        tmp_path,
        [
            {"sample_id": "silent", "audio_path": str(silent)},
            {"sample_id": "loud", "audio_path": str(loud)},
        ],
    )
    out = tmp_path / "audio.h5"
    params = {"sample_rate": 16000, "n_mels": 32, "n_fft": 512, "hop_length": 320}
    audio_stage.run(manifest, 0, out, params, "fail")
    reader = ShardReader(out)
    assert not reader.attrs("silent", "audio")["has_audio"]
    assert reader.read("silent", "audio").shape == (32, 0)
    assert reader.attrs("loud", "audio")["has_audio"]
    assert reader.read("loud", "audio").shape[1] > 90
    fitted = AUDIO.source([out], {"audio_frames": 50})
    assert fitted("silent").shape == (32, 50) and not fitted("silent").any()
    assert read_quarantine([quarantine_path(out)]).empty


def test_odd_frame_sizes(tmp_path):
    import av

    frames = clip(6, 33, 47)
    path = tmp_path / "odd.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("ffv1", rate=6)
        stream.width, stream.height, stream.pix_fmt = 47, 33, "yuv444p"
        for rgb in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    native = extract_frames(path, FrameParams(fps=6.0, size=(33, 47)))
    assert native.shape == (6, 33, 47, 3)
    assert np.abs(native.astype(int) - frames).mean() < 3  # lossless codec, colour rounding
    assert extract_frames(path, FrameParams(fps=6.0, size=20)).shape == (6, 20, 28, 3)
