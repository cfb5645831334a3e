"""Dataset skeleton files -> :class:`~harfuse.skeleton.track.SkeletonTrack`.

Readers (each raises :class:`SkeletonError` naming the file and the reason):

- :func:`read_utd_skeleton`: UTD-MHAD ``Skeleton/a{A}_s{S}_t{T}_skeleton.mat``, variable
  ``d_skel`` of shape ``(20, 3, T)``: 20 Kinect v1 joints x (x, y, z) metres in camera
  space x frames, 30 Hz. One body; a frame whose joints are all 0 counts as undetected.
  The dataset's readme numbers the joints from the head down (1 head, 2 shoulder centre,
  3 spine, 4 hip centre, then the arms and legs as the Kinect SDK does); the reader
  reorders them to the Kinect SDK v1 order of ``kinect_v1_20`` (hip centre first).
- :func:`read_ntu_skeleton`: NTU RGB+D ``.skeleton`` text (Kinect v2, 25 joints, 30 Hz).
  The first line is the frame count; each frame has a body count line and, per body, an
  info line (``bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence
  handRightState isRestricted leanX leanY trackingState``), a joint count line (25) and
  25 joint lines (``x y z depthX depthY colorX colorY orientationW orientationX
  orientationY orientationZ trackingState``). Only the camera-space ``x y z`` (metres) are
  kept.

NTU body selection: Kinect sometimes reports extra, flickering bodies (furniture, a
reflection) besides the actors. Bodies are identified by ``bodyID`` across frames; the
``max_bodies`` bodies with the largest motion energy are kept, where a body's energy is
the sum over its 25 joints and 3 axes of the variance of the coordinate over the frames in
which that body is present (a body seen in one frame has energy 0). Kept bodies are ordered
by energy, largest first (ties: first appearance), so body 0 is the most active actor.
Each body's frames are placed at their frame index on the sequence's timeline; frames where
it is absent are 0 with ``detected`` False.

:func:`moving_figure` and the rest poses below make plausible synthetic motion for the
layout fixtures and tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harfuse.skeleton.track import SkeletonTrack

#: frame rate of UTD-MHAD's and NTU RGB+D's Kinect skeletons, Hz
KINECT_FPS = 30.0
UTD_JOINT_FORMAT = "kinect_v1_20"
NTU_JOINT_FORMAT = "kinect_v2_25"
NTU_JOINTS = 25
XYZ = ("x", "y", "z")
#: UTD-MHAD's joint order <-> Kinect SDK v1's: the first four reversed (its own inverse)
UTD_TO_KINECT_V1 = (3, 2, 1, 0, *range(4, 20))
#: fields of an NTU body info line and of an NTU joint line
_NTU_INFO_FIELDS = 10
_NTU_JOINT_FIELDS = 12


class SkeletonError(ValueError):
    """A skeleton file is unusable; the message names the file and the reason."""


def read_utd_skeleton(path: str | Path) -> SkeletonTrack:
    """UTD-MHAD ``_skeleton.mat`` -> track with joints ``(T, 1, 20, 3)`` float32 (metres,
    camera space), 30 Hz, format ``kinect_v1_20``.

    ``d_skel`` is ``(20, 3, T)``; a one-frame ``(20, 3)`` (MATLAB drops the trailing
    singleton axis) is taken as ``T = 1``. A frame whose 20 joints are all 0 is undetected.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(path)
    except (MatReadError, ValueError, TypeError, OSError) as exc:
        raise SkeletonError(f"{path}: not a readable MATLAB file: {exc}") from exc
    if "d_skel" not in mat:
        names = sorted(k for k in mat if not k.startswith("_"))
        raise SkeletonError(f"{path}: no d_skel variable (has {names})")
    try:
        d_skel = np.asarray(mat["d_skel"], np.float32)
    except (TypeError, ValueError) as exc:
        raise SkeletonError(f"{path}: d_skel is not numeric: {exc}") from exc
    if d_skel.shape == (20, 3):
        d_skel = d_skel[:, :, None]
    if d_skel.ndim != 3 or d_skel.shape[:2] != (20, 3) or d_skel.shape[2] < 1:
        raise SkeletonError(
            f"{path}: d_skel has shape {d_skel.shape}, expected (20 joints, 3 axes, T frames)"
        )
    if not np.isfinite(d_skel).all():
        bad = int((~np.isfinite(d_skel)).sum())
        raise SkeletonError(f"{path}: d_skel has {bad} non-finite values")
    joints = d_skel.transpose(2, 0, 1)[:, None, UTD_TO_KINECT_V1]  # (T, 1, 20, 3)
    joints = np.ascontiguousarray(joints)
    detected = (joints != 0).any(axis=(2, 3))  # (T, 1)
    return SkeletonTrack(joints, detected, KINECT_FPS, UTD_JOINT_FORMAT, XYZ)


class _Lines:
    """A cursor over a text file's lines that reports positions as 1-based line numbers."""

    def __init__(self, text: str, where: str) -> None:
        self.lines = text.splitlines()
        self.end = len(self.lines)
        while self.end and not self.lines[self.end - 1].strip():
            self.end -= 1  # trailing blank lines are not content
        self.where = where
        self.pos = 0
        self.context = "the frame count"

    def fail(self, lineno: int, reason: str) -> SkeletonError:
        return SkeletonError(f"{self.where}: line {lineno}: {reason}")

    def take(self, count: int, what: str) -> tuple[int, list[str]]:
        """The next ``count`` lines and the line number of the first; a truncated-file
        error when fewer are left."""
        if self.pos + count > self.end:
            raise SkeletonError(
                f"{self.where}: truncated: the file ends at line {self.end} inside "
                f"{self.context}, expecting {what}"
            )
        first = self.pos + 1
        self.pos += count
        return first, self.lines[first - 1 : self.pos]

    def integer(self, what: str) -> tuple[int, int]:
        """The next line as one integer, and its line number."""
        lineno, (line,) = self.take(1, what)
        try:
            return lineno, int(line)
        except ValueError:
            raise self.fail(lineno, f"{what} {line.strip()!r} is not an integer") from None


def _joint_block(lines: _Lines) -> np.ndarray:
    """The next 25 joint lines as ``(25, 3)`` float64 camera-space xyz (metres)."""
    first, block = lines.take(NTU_JOINTS, f"{NTU_JOINTS} joint lines")
    try:
        values = np.array(" ".join(block).split(), dtype=np.float64)
    except ValueError:
        values = None
    if values is None or values.size != NTU_JOINTS * _NTU_JOINT_FIELDS:
        # slow path, only to name the offending line
        for lineno, line in enumerate(block, first):
            fields = line.split()
            if len(fields) != _NTU_JOINT_FIELDS:
                raise lines.fail(
                    lineno,
                    f"joint line has {len(fields)} values, expected {_NTU_JOINT_FIELDS} (x y z "
                    "depthX depthY colorX colorY orientationW/X/Y/Z trackingState)",
                )
            for field in fields:
                try:
                    float(field)
                except ValueError:
                    raise lines.fail(lineno, f"unparsable number {field!r}") from None
        raise lines.fail(first, "unparsable joint lines")
    xyz = values.reshape(NTU_JOINTS, _NTU_JOINT_FIELDS)[:, :3]
    if not np.isfinite(xyz).all():
        row = int(np.flatnonzero(~np.isfinite(xyz).all(axis=1))[0])
        raise lines.fail(first + row, "non-finite joint coordinate")
    return xyz


def parse_ntu_skeleton(text: str, where: str = "<text>") -> tuple[int, dict[str, dict]]:
    """Parse NTU RGB+D ``.skeleton`` text.

    Returns ``(T, bodies)``: the frame count and, per ``bodyID`` in order of first
    appearance, ``{"frames": (N,) int frame indices, "xyz": (N, 25, 3) float64 metres}``.
    :class:`SkeletonError` (``where`` names the source) for a truncated file, a joint count
    other than 25, unparsable numbers, a body listed twice in a frame, or no body at all.
    """
    lines = _Lines(text, where)
    if lines.end == 0:
        raise SkeletonError(f"{where}: empty file (no frame count)")
    lineno, frames = lines.integer("frame count")
    if frames <= 0:
        raise lines.fail(lineno, f"frame count {frames} (empty skeleton)")
    seen: dict[str, tuple[list[int], list[np.ndarray]]] = {}
    for t in range(frames):
        lines.context = f"frame {t + 1} of {frames}"
        lineno, count = lines.integer("body count")
        if count < 0:
            raise lines.fail(lineno, f"body count {count} is negative")
        in_frame: set[str] = set()
        for b in range(count):
            lines.context = f"body {b + 1} of {count} in frame {t + 1} of {frames}"
            lineno, (info,) = lines.take(1, "a body info line")
            fields = info.split()
            if len(fields) != _NTU_INFO_FIELDS:
                raise lines.fail(
                    lineno,
                    f"body info line has {len(fields)} values, expected {_NTU_INFO_FIELDS} "
                    "(bodyID clippedEdges handLeftConfidence handLeftState handRightConfidence "
                    "handRightState isRestricted leanX leanY trackingState)",
                )
            body_id = fields[0]
            if body_id in in_frame:
                raise lines.fail(lineno, f"body {body_id} appears twice in frame {t + 1}")
            in_frame.add(body_id)
            lineno, joints = lines.integer("joint count")
            if joints != NTU_JOINTS:
                raise lines.fail(
                    lineno, f"joint count {joints}, expected {NTU_JOINTS} (Kinect v2 body)"
                )
            frame_list, xyz_list = seen.setdefault(body_id, ([], []))
            frame_list.append(t)
            xyz_list.append(_joint_block(lines))
    if lines.pos < lines.end:
        raise lines.fail(
            lines.pos + 1, f"text after the last of the {frames} frames the first line announces"
        )
    if not seen:
        raise SkeletonError(f"{where}: no body in any of its {frames} frames (empty skeleton)")
    return frames, {
        body: {"frames": np.asarray(f, np.int64), "xyz": np.stack(x)}
        for body, (f, x) in seen.items()
    }


def motion_energy(xyz: np.ndarray) -> float:
    """Sum over joints and axes of the variance over frames of ``xyz`` ``(N, J, 3)``
    (m²); 0 for a single frame."""
    return float(xyz.var(axis=0).sum())


def select_bodies(
    frames: int, bodies: dict[str, dict], max_bodies: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Keep the ``max_bodies`` bodies of largest :func:`motion_energy` (ties: first
    appearance, the order of ``bodies``), largest first, and place them on the timeline.

    Returns ``(joints (T, max_bodies, 25, 3) float32, detected (T, max_bodies) bool,
    kept bodyIDs)``; slots without a body stay 0 and undetected.
    """
    if max_bodies < 1:
        raise ValueError(f"max_bodies must be >= 1, got {max_bodies}")
    order = sorted(
        enumerate(bodies), key=lambda item: (-motion_energy(bodies[item[1]]["xyz"]), item[0])
    )
    kept = [body for _, body in order[:max_bodies]]
    joints = np.zeros((frames, max_bodies, NTU_JOINTS, 3), np.float32)
    detected = np.zeros((frames, max_bodies), bool)
    for m, body in enumerate(kept):
        where = bodies[body]["frames"]
        joints[where, m] = bodies[body]["xyz"]
        detected[where, m] = True
    return joints, detected, kept


def read_ntu_skeleton(path: str | Path, max_bodies: int = 2) -> SkeletonTrack:
    """NTU RGB+D ``.skeleton`` -> track with joints ``(T, max_bodies, 25, 3)`` float32
    (camera-space metres), 30 Hz, format ``kinect_v2_25``; bodies chosen as the module
    docstring says."""
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SkeletonError(f"{path}: not a readable .skeleton text file: {exc}") from exc
    frames, bodies = parse_ntu_skeleton(text, str(path))
    joints, detected, _ = select_bodies(frames, bodies, max_bodies)
    return SkeletonTrack(joints, detected, KINECT_FPS, NTU_JOINT_FORMAT, XYZ)


def read_skeleton(path: str | Path, max_bodies: int = 2) -> SkeletonTrack:
    """A manifest ``skeleton_path``: ``.mat`` is UTD-MHAD (one body), ``.skeleton`` NTU
    RGB+D (``max_bodies`` bodies)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".mat":
        return read_utd_skeleton(path)
    if suffix == ".skeleton":
        return read_ntu_skeleton(path, max_bodies)
    raise SkeletonError(f"{path}: unknown skeleton file type {suffix!r} (.mat or .skeleton)")


# --- synthetic figures for fixtures and tests -------------------------------------------

# Rest poses in metres relative to the hip centre (x: the figure's right, y: up, z: away
# from the camera), joints in Kinect SDK v1 order and Kinect v2 order.
KINECT_V1_REST = np.array(
    [
        (0.0, 0.0, 0.0), (0.0, 0.08, -0.02), (0.0, 0.45, -0.02), (0.0, 0.62, -0.03),
        (-0.17, 0.40, 0.0), (-0.24, 0.14, 0.02), (-0.27, -0.08, 0.0), (-0.28, -0.15, 0.0),
        (0.17, 0.40, 0.0), (0.24, 0.14, 0.02), (0.27, -0.08, 0.0), (0.28, -0.15, 0.0),
        (-0.08, -0.05, 0.0), (-0.10, -0.47, 0.02), (-0.10, -0.86, 0.05), (-0.10, -0.92, -0.05),
        (0.08, -0.05, 0.0), (0.10, -0.47, 0.02), (0.10, -0.86, 0.05), (0.10, -0.92, -0.05),
    ]
)  # fmt: skip
#: (shoulder, the joints below it) for the left and the right arm
KINECT_V1_ARMS = ((4, (5, 6, 7)), (8, (9, 10, 11)))
KINECT_V2_REST = np.array(
    [
        (0.0, 0.0, 0.0), (0.0, 0.28, -0.02), (0.0, 0.55, -0.03), (0.0, 0.68, -0.03),
        (-0.17, 0.46, 0.0), (-0.24, 0.20, 0.02), (-0.27, -0.02, 0.0), (-0.28, -0.09, 0.0),
        (0.17, 0.46, 0.0), (0.24, 0.20, 0.02), (0.27, -0.02, 0.0), (0.28, -0.09, 0.0),
        (-0.08, -0.05, 0.0), (-0.10, -0.47, 0.02), (-0.10, -0.86, 0.05), (-0.10, -0.92, -0.05),
        (0.08, -0.05, 0.0), (0.10, -0.47, 0.02), (0.10, -0.86, 0.05), (0.10, -0.92, -0.05),
        (0.0, 0.48, -0.03),
        (-0.29, -0.16, 0.0), (-0.25, -0.10, -0.02), (0.29, -0.16, 0.0), (0.25, -0.10, -0.02),
    ]
)  # fmt: skip
KINECT_V2_ARMS = ((4, (5, 6, 7, 21, 22)), (8, (9, 10, 11, 23, 24)))


def moving_figure(
    rest: np.ndarray,
    arms: tuple[tuple[int, tuple[int, ...]], tuple[int, tuple[int, ...]]],
    frames: int,
    seed: int,
    fps: float = KINECT_FPS,
    origin: tuple[float, float, float] = (0.0, -0.2, 3.0),
) -> np.ndarray:
    """A figure raising and lowering its arms while swaying, ``(frames, J, 3)`` float64
    metres in camera space.

    ``rest`` ``(J, 3)``: the pose relative to the hip centre; ``arms``: ``(shoulder, arm
    joints)`` for the left and the right arm, rotated about the shoulder in the frontal
    plane; ``origin``: where the hip centre stands. Rate, amplitudes, phases and a
    few-millimetre jitter come from ``seed``.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps  # (T,) s
    freq = rng.uniform(0.5, 1.5)  # Hz
    pose = np.repeat(rest[None], frames, axis=0)  # (T, J, 3)
    for side, (shoulder, chain) in zip((-1.0, 1.0), arms, strict=True):
        lift = rng.uniform(0.4, 1.4) * (
            0.5 + 0.5 * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6))
        )
        cos, sin = np.cos(side * lift)[:, None], np.sin(side * lift)[:, None]  # (T, 1)
        rel = rest[list(chain), :2] - rest[shoulder, :2]  # (K, 2)
        pose[:, list(chain), 0] = rest[shoulder, 0] + cos * rel[:, 0] - sin * rel[:, 1]
        pose[:, list(chain), 1] = rest[shoulder, 1] + sin * rel[:, 0] + cos * rel[:, 1]
    pose[..., 0] += 0.03 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))[:, None]
    return pose + np.asarray(origin) + rng.normal(0.0, 0.003, pose.shape)
