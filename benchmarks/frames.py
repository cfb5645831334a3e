"""Frames stage vs bare PyAV, bytes on disk vs JPEG frame folders, and HDF5 codec choice.

    .venv/bin/python benchmarks/frames.py [--clips 24] [--seconds 4] [--size 320x240]
                                          [--rounds 3]

Writes synthetic clips (textured, moving; H.264 at 25 fps) to a temporary folder, then:

1. throughput: the frames stage (decode by timestamp at 8 fps, resize short side to 128,
   HDF5 shard) against bare PyAV decoding every frame of the same files to RGB arrays,
   both on one core; ratio = stage / bare, in clips per second. The two (and both storage
   codecs) run in turn, ``--rounds`` times; the ratio printed is the median over rounds
   with its min and max, so that load from other jobs on the machine cancels out.
2. bytes: the stage's shard against mmaction2-style rawframes (one JPEG per frame, OpenCV
   quality 95) of the same frames.
3. codecs: the same frame arrays written with each HDF5 filter and chunk shape; size,
   write time and the time to read one random sample back.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from harfuse.environment import describe
from harfuse.media.encode import write_video
from harfuse.stages import frames as frames_stage
from harfuse.store.manifest import assign_shards, write_manifest
from harfuse.store.shards import ShardReader
from harfuse.timing import Ratio, interleaved, rate

PARAMS = {"fps": 8.0, "size": 128}
STORAGES = {"jpeg": {"storage": "jpeg", "jpeg_quality": 95}, "raw": {"storage": "raw"}}


def make_clips(folder: Path, n: int, seconds: float, width: int, height: int) -> list[Path]:
    import cv2

    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        texture = cv2.GaussianBlur(rng.uniform(0, 255, (height * 2, width * 2, 3)), (0, 0), 3)
        frames = []
        for t in range(int(seconds * 25)):
            x, y = (3 * t + 5 * i) % width, (2 * t) % height
            frames.append(texture[y : y + height, x : x + width].astype(np.uint8))
        path = folder / f"clip{i:03d}.mp4"
        write_video(path, np.stack(frames), 25.0, qp=23)
        paths.append(path)
    return paths


def bare_pyav(paths: list[Path]) -> None:
    """Decode every frame of ``paths`` to RGB arrays, as a plain script would."""
    import av

    for path in paths:
        with av.open(str(path)) as c:
            c.streams.video[0].thread_type = "AUTO"
            for frame in c.decode(video=0):
                frame.to_ndarray(format="rgb24")


def stage(paths: list[Path], folder: Path, storage: str) -> Path:
    """The frames stage over ``paths`` into one shard; returns the shard."""
    rows = pd.DataFrame(
        {
            "sample_id": [p.stem for p in paths],
            "label": "x",
            "label_idx": 0,
            "subject": 1,
            "video_path": [str(p) for p in paths],
            "split": "train",
        }
    )
    manifest = folder / "manifest.parquet"
    write_manifest(assign_shards(rows, len(paths)), manifest, ["split"])
    out = folder / f"shard-{storage}.h5"
    frames_stage.run(manifest, 0, out, {**PARAMS, **STORAGES[storage]}, "fail")
    return out


def jpeg_bytes(shard: Path, folder: Path) -> int:
    import cv2

    reader = ShardReader(shard)
    total = 0
    for sid in reader.sample_ids():
        for i, rgb in enumerate(reader.read(sid, "frames")):
            path = folder / sid / f"img_{i + 1:05d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            total += path.stat().st_size
    return total


def codec_table(arrays: list[np.ndarray], folder: Path, rounds: int) -> pd.DataFrame:
    """Size, write time and random-read time of each HDF5 filter and chunk shape; the
    settings run in turn, ``rounds`` times, and the times are medians over rounds."""
    options = {
        "none": {},
        "lzf": {"compression": "lzf"},
        "gzip-1": {"compression": "gzip", "compression_opts": 1},
        "gzip-4": {"compression": "gzip", "compression_opts": 4},
        "gzip-4+shuffle": {"compression": "gzip", "compression_opts": 4, "shuffle": True},
    }
    settings = [(name, chunk) for name in options for chunk in (1, 8, 0)]  # 0: whole clip
    picks = np.random.default_rng(0).integers(0, len(arrays), 50)

    def write(name: str, chunk_frames: int) -> None:
        with h5py.File(folder / f"{name}-{chunk_frames}.h5", "w") as f:
            for i, a in enumerate(arrays):
                chunks = (min(chunk_frames, len(a)) or len(a), *a.shape[1:])
                f.create_dataset(f"s{i}/frames", data=a, chunks=chunks, **options[name])

    def read(name: str, chunk_frames: int) -> None:
        with h5py.File(folder / f"{name}-{chunk_frames}.h5", "r") as f:
            for i in picks:
                f[f"s{i}/frames"][()]

    runs = {}
    for name, chunk in settings:
        runs[f"w/{name}/{chunk}"] = lambda name=name, chunk=chunk: write(name, chunk)
        runs[f"r/{name}/{chunk}"] = lambda name=name, chunk=chunk: read(name, chunk)
    seconds = interleaved(runs, rounds)
    return pd.DataFrame(
        {
            "filter": name,
            "chunk_frames": chunk or "clip",
            "MB": (folder / f"{name}-{chunk}.h5").stat().st_size / 1e6,
            "write_s": statistics.median(seconds[f"w/{name}/{chunk}"]),
            "read_ms_per_sample": statistics.median(seconds[f"r/{name}/{chunk}"])
            / len(picks)
            * 1000,
        }
        for name, chunk in settings
    )


def main() -> None:
    import cv2
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--size", default="320x240", help="source WIDTHxHEIGHT")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_clips(folder, args.clips, args.seconds, width, height)
        bare_pyav(paths[:2])  # warm-up
        shards = {storage: folder / f"shard-{storage}.h5" for storage in STORAGES}
        runs = {"bare": lambda: bare_pyav(paths)}
        for storage in STORAGES:
            runs[storage] = lambda storage=storage: stage(paths, folder, storage)
        seconds = interleaved(runs, args.rounds)
        print(describe())
        print(
            f"clips: {len(paths)} x {args.seconds:g} s, {width}x{height} H.264 25 fps; "
            f"stage params {PARAMS}; {args.rounds} interleaved rounds"
        )
        print(
            f"bare PyAV decode (all frames to RGB): {rate(len(paths), seconds['bare']):.2f} clips/s"
        )
        for storage in STORAGES:
            print(
                f"frames stage, storage {storage}: {rate(len(paths), seconds[storage]):.2f} "
                f"clips/s, ratio stage / bare: {Ratio.of(seconds['bare'], seconds[storage])}"
            )
        jpg = jpeg_bytes(shards["raw"], folder / "rawframes")
        for storage, shard in shards.items():
            size = shard.stat().st_size
            print(
                f"bytes: shard ({storage}) {size / 1e6:.2f} MB, JPEG rawframes "
                f"{jpg / 1e6:.2f} MB, ratio shard / rawframes: {size / jpg:.2f}"
            )
        reader = ShardReader(shards["raw"])
        arrays = [reader.read(s, "frames") for s in reader.sample_ids()]
        print()
        print(codec_table(arrays, folder, args.rounds).to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
