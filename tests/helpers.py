"""Running the workflow from tests; media files in other encodings, or damaged."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import yaml

from harfuse.media.decode import iter_frames_at_fps, read_audio
from harfuse.media.encode import write_video

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")


def snakemake_command(
    workdir: Path, *args: str, config: str = "config.yaml", cores: int = 2
) -> list[str]:
    """The command line of the workflow in ``workdir`` with ``workdir/config``."""
    return [
        SNAKEMAKE,
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(workdir / config),
        "--cores",
        str(cores),
        *args,
    ]


def run_env() -> dict[str, str]:
    """The environment of a workflow run from a test: this process's, without the disk
    estimate before the shard jobs (2-4 s a run; tests/test_disk_estimate.py sets it)."""
    return {**os.environ, "HARFUSE_DISK_CHECK": os.environ.get("HARFUSE_DISK_CHECK", "0")}


def snakemake(workdir: Path, *args: str, config: str = "config.yaml", succeed: bool = True) -> str:
    """Run the workflow in ``workdir`` with ``workdir/config``; returns its output, after
    asserting that it succeeded (``succeed``) or failed."""
    cmd = snakemake_command(workdir, *args, config=config)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=run_env())
    output = proc.stdout + proc.stderr
    assert (proc.returncode == 0) == succeed, output[-4000:]
    return output


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The "Job stats" table of a dry run, without the total."""
    table = dry_run_output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config))
    return path


def reencode(
    src: str, dst: Path, codec: str, audio_codec: str, fmt: str, audio: bool = True
) -> Path:
    frames = np.stack([f for _, f in iter_frames_at_fps(src, 15.0)])
    sound = read_audio(src, 48000) if audio else None
    write_video(
        dst, frames, 15.0, sound, 48000, codec=codec, container_format=fmt, audio_codec=audio_codec
    )
    return dst


def damage_audio_packets(src: Path, dst: Path, which: Sequence[int] | None = None) -> int:
    """Copy ``src`` to ``dst`` with the payloads of its first audio stream's packets
    ``which`` (indices; ``None``: all of them) replaced by random bytes of the same size,
    in place: the container, its timestamps and every other packet stay as they were.
    Returns the stream's number of packets."""
    import av

    data = bytearray(src.read_bytes())
    with av.open(str(src)) as container:
        payloads = [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]
    rng = np.random.default_rng(0)
    at = 0
    for i in range(len(payloads)) if which is None else sorted(which):
        at = data.index(payloads[i], at)  # packets are stored in order
        data[at : at + len(payloads[i])] = rng.bytes(len(payloads[i]))
    dst.write_bytes(bytes(data))
    return len(payloads)


def tiny_config(layout: str, root: Path) -> dict:
    """``configs/{layout}.yaml`` shrunk for a test run on the fixture at ``root``."""
    cfg = yaml.safe_load((REPO / "configs" / f"{layout}.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    cfg["dataset"]["samples_per_shard"] = 16
    cfg["frames"]["size"] = 32
    for name, feature_set in cfg["features"]["sets"].items():
        # S3D has a fixed 224 px input: the same clip path at test size is r3d_18
        encoder = "r3d_18" if feature_set["encoder"] == "s3d" else feature_set["encoder"]
        cfg["features"]["sets"][name] = {
            "encoder": encoder,
            "weights": "none",
            "input_size": [32, 32],
            "num_frames": min(feature_set["num_frames"], 4),
        }
    cfg["train"]["params"]["epochs"] = 2
    if cfg.get("experiments", {}).get("hidden_classes"):
        cfg["experiments"].update(ratios=[0.5], hidden_classes=2)
    cfg["train"]["inputs"].update(flow_length=4, audio_frames=40)
    cfg["imu"]["window"] = 100
    return cfg


def open_count(paths: Sequence[str | os.PathLike[str]]) -> int:
    """How many file descriptors of this process point at ``paths``."""
    targets = {str(Path(p).resolve()) for p in paths}
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the descriptor listdir used, closed since
            found += os.readlink(f"/proc/self/fd/{fd}") in targets
    return found
