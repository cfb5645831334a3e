"""The embedded demo dataset: synthetic RGB video + audio + IMU in a UTD-MHAD-like layout.

Each sample is a stick figure moving one arm, with a sound, and a wrist IMU. An action is a
(motion, sound) pair from 3 motions x 2 sounds, so actions that share a motion differ only
in sound and actions that share a sound differ only in motion: video, flow and IMU can at
best tell the motion (2 actions left), audio at best the sound (3 actions left), and only a
fusion of both kinds can name all 6.

On-disk layout under ``root``::

    actions.csv                          action,name,motion,sound
    RGB/a{A}_s{S}_t{T}_color.mp4         H.264 video (``fps``, ``size`` px) + AAC mono audio
    Inertial/a{A}_s{S}_t{T}_inertial.csv time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z
                                         (acc in g, gyr in deg/s, sampled at ``imu_rate`` Hz)
    demo.json                            the generation parameters (provenance)

Generation is deterministic for a given seed: sample ``(a, s, t)`` draws from its own
``numpy.random.default_rng([seed, a, s, t])`` stream.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harfuse.datasets import Scan
from harfuse.datasets.common import finish_rows, require
from harfuse.media.encode import write_video
from harfuse.store.atomic import write_json

log = logging.getLogger(__name__)

MOTIONS = ("wave", "swing", "circle")
SOUNDS = ("whistle", "clap")
#: action number (1-based, as in UTD-MHAD file names) -> (name, motion, sound)
ACTIONS: dict[int, tuple[str, str, str]] = {
    i + 1: (f"{m}_{s}", m, s) for i, (m, s) in enumerate((m, s) for m in MOTIONS for s in SOUNDS)
}
ARM_LENGTH_M = 0.6
GRAVITY = 9.81


@dataclass(frozen=True)
class DemoSpec:
    """Parameters of the generated demo dataset (``demo:`` config section)."""

    seed: int = 0
    subjects: int = 8
    trials: int = 3
    fps: float = 15.0
    size: int = 64
    audio_rate: int = 16000
    imu_rate: float = 100.0
    min_duration_s: float = 1.6
    max_duration_s: float = 2.4


def sample_id(action: int, subject: int, trial: int) -> str:
    """UTD-MHAD style sample id, e.g. ``a3_s2_t1``."""
    return f"a{action}_s{subject}_t{trial}"


def arm_angle(motion: str, t: np.ndarray, freq_hz: float, phase: float) -> np.ndarray:
    """Arm angle in radians (0 = pointing right, counter-clockwise) at times ``t`` (s)."""
    w = 2 * np.pi * freq_hz * t + phase
    if motion == "wave":
        return np.pi / 2 + 0.6 * np.sin(w)
    if motion == "swing":
        return -np.pi / 2 + 0.8 * np.sin(w)
    if motion == "circle":
        return w
    raise ValueError(f"unknown motion {motion!r}; expected one of {MOTIONS}")


def render_frames(theta: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw the stick figure for each arm angle; returns ``(T, size, size, 3)`` uint8 RGB."""
    import cv2

    background = rng.integers(40, 120, size=3)
    body = rng.integers(150, 255, size=3)
    arm_color = tuple(int(c) for c in rng.integers(150, 255, size=3))
    cx = size // 2 + int(rng.integers(-size // 10, size // 10 + 1))
    cy = size // 2
    shoulder = (cx, cy - size // 8)
    arm_px = 0.35 * size
    frames = np.empty((len(theta), size, size, 3), np.uint8)
    base = np.empty((size, size, 3), np.uint8)
    base[:] = background
    cv2.rectangle(
        base,
        (cx - size // 12, cy - size // 6),
        (cx + size // 12, cy + size // 4),
        tuple(int(c) for c in body),
        -1,
    )
    cv2.circle(base, (cx, cy - size // 4), size // 12, tuple(int(c) for c in body), -1)
    thickness = max(2, size // 20)
    for i, th in enumerate(theta):
        frame = base.copy()
        hand = (round(shoulder[0] + arm_px * np.cos(th)), round(shoulder[1] - arm_px * np.sin(th)))
        cv2.line(frame, shoulder, hand, arm_color, thickness, cv2.LINE_AA)
        frames[i] = frame
    return frames


def synth_sound(sound: str, n: int, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Mono waveform of ``n`` samples at ``rate`` Hz in [-1, 1], float32."""
    t = np.arange(n) / rate
    y = 0.01 * rng.standard_normal(n)
    if sound == "whistle":
        f0 = rng.uniform(700.0, 1000.0)
        vibrato = 1 + 0.01 * np.sin(2 * np.pi * 5 * t)
        pulse = 0.5 * (1 - np.cos(2 * np.pi * rng.uniform(1.0, 2.0) * t))
        y += 0.4 * pulse * np.sin(2 * np.pi * f0 * np.cumsum(vibrato) / rate)
    elif sound == "clap":
        n_claps = max(2, int(rng.poisson(4 * n / rate)))
        for onset in rng.uniform(0, n / rate - 0.05, size=n_claps):
            i0 = int(onset * rate)
            length = int(0.04 * rate)
            burst = rng.standard_normal(length) * np.exp(-np.arange(length) / (0.008 * rate))
            y[i0 : i0 + length] += 0.5 * burst[: n - i0]
    else:
        raise ValueError(f"unknown sound {sound!r}; expected one of {SOUNDS}")
    return np.clip(y, -1, 1).astype(np.float32)


def synth_imu(theta_fn, duration_s: float, rate: float, rng: np.random.Generator) -> pd.DataFrame:
    """Wrist accelerometer (g) and gyroscope (deg/s) of the arm, sampled at ``rate`` Hz."""
    t = np.arange(round(duration_s * rate)) / rate
    theta = theta_fn(t)
    pos = ARM_LENGTH_M * np.stack([np.cos(theta), np.sin(theta)], axis=1)  # (N, 2) m
    acc = np.gradient(np.gradient(pos, t, axis=0), t, axis=0)  # (N, 2) m/s^2
    acc_g = np.zeros((len(t), 3))
    acc_g[:, :2] = acc / GRAVITY
    acc_g[:, 1] += 1.0  # gravity, device y axis up
    gyr = np.zeros((len(t), 3))
    gyr[:, 2] = np.degrees(np.gradient(np.unwrap(theta), t))
    acc_g += rng.normal(0, 0.03, size=3) + rng.normal(0, 0.02, size=acc_g.shape)
    gyr += rng.normal(0, 2.0, size=3) + rng.normal(0, 3.0, size=gyr.shape)
    data = {"time_s": np.round(t, 6)}
    for k, axis in enumerate("xyz"):
        data[f"acc_{axis}"] = np.round(acc_g[:, k], 5)
    for k, axis in enumerate("xyz"):
        data[f"gyr_{axis}"] = np.round(gyr[:, k], 4)
    return pd.DataFrame(data)


def generate_sample(spec: DemoSpec, action: int, subject: int, trial: int, root: Path) -> None:
    """Write one sample's video and IMU file under ``root``."""
    _, motion, sound = ACTIONS[action]
    rng = np.random.default_rng([spec.seed, action, subject, trial])
    duration = rng.uniform(spec.min_duration_s, spec.max_duration_s)
    freq = rng.uniform(0.7, 1.3)
    phase = rng.uniform(0, 2 * np.pi)

    def theta_fn(t: np.ndarray) -> np.ndarray:
        return arm_angle(motion, t, freq, phase)

    n_frames = round(duration * spec.fps)
    frames = render_frames(theta_fn(np.arange(n_frames) / spec.fps), spec.size, rng)
    audio = synth_sound(sound, round(duration * spec.audio_rate), spec.audio_rate, rng)
    imu = synth_imu(theta_fn, duration, spec.imu_rate, rng)
    sid = sample_id(action, subject, trial)
    write_video(root / "RGB" / f"{sid}_color.mp4", frames, spec.fps, audio, spec.audio_rate)
    imu.to_csv(root / "Inertial" / f"{sid}_inertial.csv", index=False)


def generate_demo(out_dir: str | Path, spec: DemoSpec) -> Path:
    """Generate the whole demo dataset into ``out_dir`` (replaced atomically as a folder)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "RGB").mkdir()
        (staging / "Inertial").mkdir()
        rows = [
            {"action": a, "name": name, "motion": m, "sound": s}
            for a, (name, m, s) in ACTIONS.items()
        ]
        pd.DataFrame(rows).to_csv(staging / "actions.csv", index=False)
        total = len(ACTIONS) * spec.subjects * spec.trials
        done = 0
        for a in ACTIONS:
            for s in range(1, spec.subjects + 1):
                for t in range(1, spec.trials + 1):
                    generate_sample(spec, a, s, t, staging)
                    done += 1
            log.info("demo: %d/%d samples written", done, total)
        write_json(staging / "demo.json", asdict(spec))
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


_FILE_RE = r"^a(?P<action>\d+)_s(?P<subject>\d+)_t(?P<trial>\d+)_color\.mp4$"


def check_root(root: Path) -> None:
    """Raise :class:`LayoutError` unless ``root`` holds what the generator writes."""
    for required in ("actions.csv", "RGB", "Inertial"):
        require(root, required, "demo")


def scan(root: Path) -> Scan:
    """Manifest rows of a demo dataset: odd subjects train, even subjects test
    (split column ``cross_subject``). Videos without an IMU file are quarantined."""
    check_root(root)
    actions = pd.read_csv(root / "actions.csv").sort_values("action")
    names = dict(zip(actions["action"], actions["name"], strict=True))
    rows, quarantine = [], []
    pattern = re.compile(_FILE_RE)
    for video in sorted((root / "RGB").iterdir()):
        m = pattern.match(video.name)
        if not m:
            reason = f"{video}: name is not a{{A}}_s{{S}}_t{{T}}_color.mp4"
            quarantine.append({"sample_id": video.name, "stage": "manifest", "reason": reason})
            continue
        a, s, t = (int(m[k]) for k in ("action", "subject", "trial"))
        sid = sample_id(a, s, t)
        imu = root / "Inertial" / f"{sid}_inertial.csv"
        problem = (
            f"{video}: action {a} not in actions.csv"
            if a not in names
            else f"{imu} not found"
            if not imu.exists()
            else None
        )
        if problem:
            quarantine.append(
                {
                    "sample_id": sid,
                    "stage": "manifest",
                    "reason": problem,
                    "label": names.get(a, ""),
                }
            )
            continue
        rows.append(
            {
                "sample_id": sid,
                "label": names[a],
                "subject": s,
                "trial": t,
                "video_path": str(video),
                "audio_path": str(video),
                "imu_path": str(imu),
                "cross_subject": "train" if s % 2 else "test",
            }
        )
    classes = list(actions["name"])
    return Scan(
        finish_rows(rows, classes, ["cross_subject"]), ["cross_subject"], classes, quarantine
    )


__all__ = ["ACTIONS", "DemoSpec", "generate_demo", "sample_id", "scan"]
