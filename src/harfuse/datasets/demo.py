"""The embedded demo dataset: synthetic RGB video + audio + IMU + skeleton in a UTD-MHAD-like
layout.

Each sample is a stick figure moving one arm, with a sound, a wrist IMU and a Kinect-like
skeleton. An action is a (motion, sound) pair from 3 motions x 2 sounds, so actions that
share a motion differ only in sound and actions that share a sound differ only in motion:
video, flow, IMU and skeleton can at best tell the motion (2 actions left), audio at best
the sound (3 actions left), and only a fusion of both kinds can name all 6.

On-disk layout under ``root``::

    actions.csv                          action,name,motion,sound
    RGB/a{A}_s{S}_t{T}_color.mp4         H.264 video (``fps``, ``size`` px) + AAC mono audio
    Inertial/a{A}_s{S}_t{T}_inertial.csv time_s,acc_x,acc_y,acc_z,gyr_x,gyr_y,gyr_z
                                         (acc in g, gyr in deg/s, sampled at ``imu_rate`` Hz)
    Skeleton/a{A}_s{S}_t{T}_skeleton.mat ``d_skel`` (20, 3, T) float64: Kinect v1 joints x
                                         (x, y, z) m in camera space x frames at 30 Hz
    demo.json                            the generation parameters (provenance)

The skeleton is UTD-MHAD's: 20 Kinect v1 joints in the dataset's order (its readme's:
head, shoulder centre, spine, hip centre, then arms and legs in Kinect SDK v1 order, as
:func:`~harfuse.media.skeleton.read_utd_skeleton` reads them), 30 Hz whatever ``fps`` the
video has, metres in Kinect camera space (x toward the camera's left, i.e. the figure's
right; y up; z from the camera to the figure, about 2.5 m). The video is what a camera
facing the figure sees, not mirrored, and the arm that moves is the figure's right arm
(the one with the wrist IMU, as in UTD-MHAD), so an arm angle ``theta`` of the video
(0 = the image's right, counter-clockwise) points the hand along ``(-cos theta, sin theta)``
in camera (x, y), tilted a little toward the camera. The rest of the body stands and sways;
joints jitter as Kinect's do, and tracking is lost now and then for a frame or a few, which
UTD-MHAD stores as a frame of zeros.

Generation is deterministic for a given seed: sample ``(a, s, t)`` draws its video, audio
and IMU from its own ``numpy.random.default_rng([seed, a, s, t])`` stream, its skeleton
from ``default_rng([seed, a, s, t, 1])``, and subject ``s``'s build and place in front of
the camera come from ``default_rng([seed, 0, s, 0, 2])``. (A ``.mat`` file's header holds
the time it was written; its data is what is deterministic.)
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harfuse.datasets import Scan
from harfuse.datasets.common import finish_rows, require
from harfuse.media.encode import write_video
from harfuse.media.skeleton import KINECT_FPS, KINECT_V1_REST, UTD_TO_KINECT_V1
from harfuse.skeleton.formats import KINECT_V1_20
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

_JOINT = {name: i for i, name in enumerate(KINECT_V1_20.joints)}
#: the moving arm's joints from the shoulder to the hand: the figure's right arm
ARM_JOINTS = tuple(_JOINT[f"{j}_right"] for j in ("shoulder", "elbow", "wrist", "hand"))
#: height of the Kinect above the floor, m
CAMERA_HEIGHT_M = 1.1
#: height of the hip centre above the floor for a body of scale 1 (KINECT_V1_REST), m
HIP_HEIGHT_M = 0.97
#: chance per frame that Kinect loses the body, and the most frames a sample may lose
DROPOUT_RATE = 0.005
MAX_DROPOUT_FRACTION = 0.02


def _joint_noise_sd() -> np.ndarray:
    """Standard deviation of Kinect's joint jitter, ``(20, 3)`` m: about 1 cm on the trunk,
    up to 2 cm at the hands, and half as much again along the depth axis."""
    sd = np.full(len(_JOINT), 0.012)
    for joint, value in (("elbow", 0.015), ("wrist", 0.02), ("hand", 0.022), ("foot", 0.015)):
        for side in ("left", "right"):
            sd[_JOINT[f"{joint}_{side}"]] = value
    return sd[:, None] * np.array([1.0, 1.0, 1.5])


JOINT_NOISE_SD = _joint_noise_sd()


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


@dataclass(frozen=True)
class ArmMotion:
    """One sample's arm movement: ``motion`` in :data:`MOTIONS` at ``freq_hz`` Hz from
    ``phase`` rad, for ``duration_s`` s."""

    motion: str
    duration_s: float
    freq_hz: float
    phase: float

    def angle(self, t: np.ndarray) -> np.ndarray:
        """Arm angle (rad, as :func:`arm_angle`) at times ``t`` (s)."""
        return arm_angle(self.motion, t, self.freq_hz, self.phase)


def sample_rng(spec: DemoSpec, action: int, subject: int, trial: int) -> np.random.Generator:
    """The stream sample ``(action, subject, trial)`` draws its motion, video, audio and IMU
    from."""
    return np.random.default_rng([spec.seed, action, subject, trial])


def draw_arm_motion(motion: str, spec: DemoSpec, rng: np.random.Generator) -> ArmMotion:
    """The first draws of a sample's stream (:func:`sample_rng`): duration, rate, phase."""
    duration = rng.uniform(spec.min_duration_s, spec.max_duration_s)
    freq = rng.uniform(0.7, 1.3)
    phase = rng.uniform(0, 2 * np.pi)
    return ArmMotion(motion, duration, freq, phase)


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


def synth_imu(
    theta_fn: Callable[[np.ndarray], np.ndarray],
    duration_s: float,
    rate: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
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


@dataclass(frozen=True)
class Body:
    """A demo subject's build and place: ``scale`` multiplies :data:`KINECT_V1_REST` (a body
    about 1.7 m tall at 1); ``origin`` is where the hip centre stands, m in camera space."""

    scale: float
    origin: tuple[float, float, float]


def draw_body(spec: DemoSpec, subject: int) -> Body:
    """Subject ``subject``'s :class:`Body`, the same in each of the subject's samples."""
    rng = np.random.default_rng([spec.seed, 0, subject, 0, 2])
    scale = rng.uniform(0.9, 1.1)
    x = rng.uniform(-0.12, 0.12)
    z = rng.uniform(2.3, 2.7)
    return Body(scale, (x, scale * HIP_HEIGHT_M - CAMERA_HEIGHT_M, z))


def dropout_frames(frames: int, rng: np.random.Generator) -> np.ndarray:
    """``(frames,)`` bool: the frames in which tracking is lost. Losses start at
    :data:`DROPOUT_RATE` per frame and last 1-3 frames, at most
    :data:`MAX_DROPOUT_FRACTION` of the frames in all (so never every frame)."""
    starts = np.flatnonzero(rng.random(frames) < DROPOUT_RATE)
    lengths = rng.integers(1, 4, size=len(starts))
    budget = int(MAX_DROPOUT_FRACTION * frames)
    lost = np.zeros(frames, bool)
    for start, length in zip(starts, lengths, strict=True):
        for frame in range(start, min(start + length, frames)):
            if lost.sum() >= budget:
                return lost
            lost[frame] = True
    return lost


def synth_skeleton(
    theta: np.ndarray, body: Body, rng: np.random.Generator, fps: float = KINECT_FPS
) -> np.ndarray:
    """A Kinect v1 skeleton ``(T, 20, 3)`` float64 in SDK joint order (``kinect_v1_20``),
    m in camera space (module docstring), for arm angles ``theta`` ``(T,)`` rad sampled at
    ``fps`` Hz.

    The right arm is straight, from the shoulder along the image direction ``theta`` tilted
    toward the camera by a per-sample angle, the hand ``ARM_LENGTH_M * body.scale`` from
    the shoulder and the elbow and wrist at the rest pose's share of that length. Lost
    frames (:func:`dropout_frames`) are all 0.
    """
    frames = len(theta)
    t = np.arange(frames) / fps  # (T,) s
    rest = body.scale * KINECT_V1_REST  # (J, 3) m from the hip centre
    origin = np.asarray(body.origin) + rng.normal(0.0, [0.03, 0.0, 0.05])  # this trial's spot
    pose = np.repeat((origin + rest)[None], frames, axis=0)  # (T, J, 3)
    # standing sway pivots at the ankles: each joint moves in proportion to its height
    # above them, feet still
    ankle_y = rest[_JOINT["ankle_left"], 1]
    lever = np.clip((rest[:, 1] - ankle_y) / (rest[ARM_JOINTS[0], 1] - ankle_y), 0.0, None)
    amplitude = rng.uniform(0.008, 0.02, size=2)  # (x, z) at shoulder height, m
    sway_hz = rng.uniform(0.15, 0.4, size=2)
    sway = amplitude * np.sin(2 * np.pi * sway_hz * t[:, None] + rng.uniform(0, 2 * np.pi, 2))
    pose[:, :, 0] += sway[:, :1] * lever  # (T, 1) * (J,) -> (T, J)
    pose[:, :, 2] += sway[:, 1:] * lever
    tilt = rng.uniform(0.25, 0.4)  # rad toward the camera, so the arm passes the torso
    direction = np.stack(
        [
            -np.cos(theta) * np.cos(tilt),
            np.sin(theta) * np.cos(tilt),
            np.full(frames, -np.sin(tilt)),
        ],
        axis=1,
    )  # (T, 3) unit vectors
    bones = np.linalg.norm(np.diff(KINECT_V1_REST[list(ARM_JOINTS)], axis=0), axis=1)  # (3,)
    reach = ARM_LENGTH_M * body.scale * np.cumsum(bones) / bones.sum()  # (3,) m
    shoulder = pose[:, ARM_JOINTS[0]]  # (T, 3)
    pose[:, list(ARM_JOINTS[1:])] = shoulder[:, None] + reach[None, :, None] * direction[:, None]
    pose += JOINT_NOISE_SD * rng.standard_normal(pose.shape)
    pose[dropout_frames(frames, rng)] = 0.0
    return pose


def generate_sample(spec: DemoSpec, action: int, subject: int, trial: int, root: Path) -> None:
    """Write one sample's video, IMU and skeleton files under ``root``."""
    from scipy.io import savemat

    _, motion, sound = ACTIONS[action]
    rng = sample_rng(spec, action, subject, trial)
    arm = draw_arm_motion(motion, spec, rng)
    n_frames = round(arm.duration_s * spec.fps)
    frames = render_frames(arm.angle(np.arange(n_frames) / spec.fps), spec.size, rng)
    audio = synth_sound(sound, round(arm.duration_s * spec.audio_rate), spec.audio_rate, rng)
    imu = synth_imu(arm.angle, arm.duration_s, spec.imu_rate, rng)
    # the skeleton's own stream leaves the draws above, and so the older outputs, as they were
    skeleton_rng = np.random.default_rng([spec.seed, action, subject, trial, 1])
    n_skeleton = round(arm.duration_s * KINECT_FPS)
    pose = synth_skeleton(
        arm.angle(np.arange(n_skeleton) / KINECT_FPS), draw_body(spec, subject), skeleton_rng
    )
    sid = sample_id(action, subject, trial)
    write_video(root / "RGB" / f"{sid}_color.mp4", frames, spec.fps, audio, spec.audio_rate)
    imu.to_csv(root / "Inertial" / f"{sid}_inertial.csv", index=False)
    d_skel = pose[:, UTD_TO_KINECT_V1].transpose(1, 2, 0)  # (T, 20, 3) -> (20, 3, T)
    savemat(root / "Skeleton" / f"{sid}_skeleton.mat", {"d_skel": np.ascontiguousarray(d_skel)})


def generate_demo(out_dir: str | Path, spec: DemoSpec) -> Path:
    """Generate the whole demo dataset into ``out_dir`` (replaced atomically as a folder)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        (staging / "RGB").mkdir()
        (staging / "Inertial").mkdir()
        (staging / "Skeleton").mkdir()
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
    """Raise :class:`LayoutError` unless ``root`` holds what the generator writes (the
    ``Skeleton`` folder is optional: older demos lack it)."""
    for required in ("actions.csv", "RGB", "Inertial"):
        require(root, required, "demo")


def _quarantined(sample: str, reason: str, label: str) -> dict[str, str]:
    """A manifest quarantine row."""
    return {"sample_id": sample, "stage": "manifest", "reason": reason, "label": label}


def scan(root: Path) -> Scan:
    """Manifest rows of a demo dataset: odd subjects train, even subjects test
    (split column ``cross_subject``). Videos without an IMU file are quarantined. With a
    ``Skeleton`` folder each row's ``skeleton_path`` is its skeleton file; a sample whose
    file is missing keeps its other modalities and gets a quarantine row for it."""
    check_root(root)
    skeletons = root / "Skeleton"
    has_skeletons = skeletons.is_dir()
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
        skeleton = skeletons / f"{sid}_skeleton.mat"
        problem = (
            f"{video}: action {a} not in actions.csv"
            if a not in names
            else f"{imu} not found"
            if not imu.exists()
            else None
        )
        if problem:
            quarantine.append(_quarantined(sid, problem, names.get(a, "")))
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
                "skeleton_path": str(skeleton) if has_skeletons and skeleton.exists() else "",
                "cross_subject": "train" if s % 2 else "test",
            }
        )
        if has_skeletons and not skeleton.exists():
            quarantine.append(_quarantined(sid, f"{skeleton} not found", names[a]))
    classes = list(actions["name"])
    return Scan(
        finish_rows(rows, classes, ["cross_subject"]), ["cross_subject"], classes, quarantine
    )


__all__ = ["ACTIONS", "DemoSpec", "generate_demo", "sample_id", "scan"]
