"""Joint formats as data: the joints a skeleton source reports, the bones between them, and
which joints define the body's centre and scale.

A :class:`~harfuse.skeleton.track.SkeletonTrack` names its format; normalisation reads the
centre and torso joints from it, the graph encoder its bones (:mod:`harfuse.skeleton.graph`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harfuse.config_schema import ConfigError, did_you_mean


@dataclass(frozen=True)
class JointFormat:
    """One skeleton layout of ``J`` joints.

    - ``name``: the key in :data:`FORMATS`.
    - ``joints``: the ``J`` joint names, in the order of the joint axis of the data.
    - ``edges``: bones as ``(i, j)`` joint-index pairs, undirected; together they connect
      every joint.
    - ``centre``: joints whose mean is the body centre (the hips' midpoint).
    - ``torso_top``: joints whose mean is the top of the torso (the shoulders' midpoint);
      the distance from ``centre`` to it is the torso length, the unit of scale.
    - ``graph_centre``: joints from which hop distances split a joint's neighbours into
      centripetal and centrifugal (ST-GCN's spatial partition; it uses the spine at the
      shoulders for NTU RGB+D and the neck for OpenPose). With several joints the distance
      is to the nearest of them.
    - ``mirror``: ``(left, right)`` joint-index pairs that swap under a horizontal flip.
    """

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    centre: tuple[int, ...]
    torso_top: tuple[int, ...]
    graph_centre: tuple[int, ...]
    mirror: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        n = len(self.joints)
        if len(set(self.joints)) != n:
            raise ValueError(f"joint format {self.name!r}: duplicate joint names")
        groups = {
            "edges": [i for e in self.edges for i in e],
            "centre": list(self.centre),
            "torso_top": list(self.torso_top),
            "graph_centre": list(self.graph_centre),
            "mirror": [i for p in self.mirror for i in p],
        }
        for field, indices in groups.items():
            bad = [i for i in indices if not 0 <= i < n]
            if bad:
                raise ValueError(
                    f"joint format {self.name!r}: {field} index {bad[0]} not in [0, {n})"
                )
        if any(i == j for i, j in self.edges):
            raise ValueError(f"joint format {self.name!r}: an edge joins a joint to itself")
        if not (self.centre and self.torso_top and self.graph_centre):
            raise ValueError(f"joint format {self.name!r}: centre, torso_top, graph_centre needed")

    @property
    def num_joints(self) -> int:
        """``J``, the number of joints."""
        return len(self.joints)

    def mirror_permutation(self) -> tuple[int, ...]:
        """Joint order after a horizontal flip: ``data[..., perm, :]`` swaps left and right
        (the x coordinate's sign is the caller's to change)."""
        perm = list(range(self.num_joints))
        for left, right in self.mirror:
            perm[left], perm[right] = right, left
        return tuple(perm)


def _build(
    name: str,
    joints: Sequence[str],
    bones: Sequence[tuple[str, str]],
    sided_bones: Sequence[tuple[str, str]],
    centre: Sequence[str],
    torso_top: Sequence[str],
    graph_centre: Sequence[str],
    mirror: Sequence[tuple[str, str]],
) -> JointFormat:
    """A :class:`JointFormat` written with joint names instead of indices; each of
    ``sided_bones`` names its joints with ``{s}`` for the side and stands for two bones,
    left and right."""
    index = {j: i for i, j in enumerate(joints)}
    both = [(a.format(s=s), b.format(s=s)) for s in ("left", "right") for a, b in sided_bones]
    return JointFormat(
        name=name,
        joints=tuple(joints),
        edges=tuple((index[a], index[b]) for a, b in [*bones, *both]),
        centre=tuple(index[j] for j in centre),
        torso_top=tuple(index[j] for j in torso_top),
        graph_centre=tuple(index[j] for j in graph_centre),
        mirror=tuple((index[a], index[b]) for a, b in mirror),
    )


def _mirror(joints: Sequence[str], left: str, right: str) -> list[tuple[str, str]]:
    """``(left joint, right joint)`` pairs found by swapping the ``left``/``right`` word."""
    return [(j, j.replace(left, right)) for j in joints if left in j]


# Kinect SDK v1 (UTD-MHAD): 20 joints, metres in camera space.
_KINECT_V1 = (
    "hip_center", "spine", "shoulder_center", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
)  # fmt: skip

KINECT_V1_20 = _build(
    "kinect_v1_20",
    _KINECT_V1,
    [("hip_center", "spine"), ("spine", "shoulder_center"), ("shoulder_center", "head")],
    [
        ("shoulder_center", "shoulder_{s}"),
        ("shoulder_{s}", "elbow_{s}"),
        ("elbow_{s}", "wrist_{s}"),
        ("wrist_{s}", "hand_{s}"),
        ("hip_center", "hip_{s}"),
        ("hip_{s}", "knee_{s}"),
        ("knee_{s}", "ankle_{s}"),
        ("ankle_{s}", "foot_{s}"),
    ],
    centre=["hip_center"],
    torso_top=["shoulder_center"],
    graph_centre=["shoulder_center"],
    mirror=_mirror(_KINECT_V1, "left", "right"),
)

# Kinect SDK v2 (NTU RGB+D): 25 joints, metres in camera space.
_KINECT_V2 = (
    "spine_base", "spine_mid", "neck", "head",
    "shoulder_left", "elbow_left", "wrist_left", "hand_left",
    "shoulder_right", "elbow_right", "wrist_right", "hand_right",
    "hip_left", "knee_left", "ankle_left", "foot_left",
    "hip_right", "knee_right", "ankle_right", "foot_right",
    "spine_shoulder", "hand_tip_left", "thumb_left", "hand_tip_right", "thumb_right",
)  # fmt: skip

# the bones the Kinect v2 SDK draws its body with
KINECT_V2_25 = _build(
    "kinect_v2_25",
    _KINECT_V2,
    [
        ("spine_base", "spine_mid"),
        ("spine_mid", "spine_shoulder"),
        ("spine_shoulder", "neck"),
        ("neck", "head"),
    ],
    [
        ("spine_shoulder", "shoulder_{s}"),
        ("shoulder_{s}", "elbow_{s}"),
        ("elbow_{s}", "wrist_{s}"),
        ("wrist_{s}", "hand_{s}"),
        ("hand_{s}", "hand_tip_{s}"),
        ("wrist_{s}", "thumb_{s}"),
        ("spine_base", "hip_{s}"),
        ("hip_{s}", "knee_{s}"),
        ("knee_{s}", "ankle_{s}"),
        ("ankle_{s}", "foot_{s}"),
    ],
    centre=["spine_base"],
    torso_top=["spine_shoulder"],
    graph_centre=["spine_shoulder"],
    mirror=_mirror(_KINECT_V2, "left", "right"),
)

# MediaPipe Pose (BlazePose): 33 landmarks; image-normalised x, y, relative depth z.
_BLAZEPOSE = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer",
    "right_eye_inner", "right_eye", "right_eye_outer", "left_ear", "right_ear",
    "mouth_left", "mouth_right", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)  # fmt: skip

# MediaPipe draws the face apart from the body; the ear-shoulder and nose-mouth bones
# join them so that the graph is connected
BLAZEPOSE_33 = _build(
    "blazepose_33",
    _BLAZEPOSE,
    [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")],
    [
        ("nose", "{s}_eye_inner"),
        ("{s}_eye_inner", "{s}_eye"),
        ("{s}_eye", "{s}_eye_outer"),
        ("{s}_eye_outer", "{s}_ear"),
        ("nose", "mouth_{s}"),
        ("{s}_ear", "{s}_shoulder"),
        ("{s}_shoulder", "{s}_elbow"),
        ("{s}_elbow", "{s}_wrist"),
        ("{s}_wrist", "{s}_pinky"),
        ("{s}_wrist", "{s}_index"),
        ("{s}_wrist", "{s}_thumb"),
        ("{s}_pinky", "{s}_index"),
        ("{s}_shoulder", "{s}_hip"),
        ("{s}_hip", "{s}_knee"),
        ("{s}_knee", "{s}_ankle"),
        ("{s}_ankle", "{s}_heel"),
        ("{s}_ankle", "{s}_foot_index"),
        ("{s}_heel", "{s}_foot_index"),
    ],
    centre=["left_hip", "right_hip"],
    torso_top=["left_shoulder", "right_shoulder"],
    graph_centre=["left_shoulder", "right_shoulder"],
    mirror=_mirror(_BLAZEPOSE, "left", "right"),
)

# COCO keypoints (most 2D pose estimators): 17 joints, pixels or image-normalised x, y.
_COCO = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip

COCO_17 = _build(
    "coco_17",
    _COCO,
    [("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")],
    [
        ("nose", "{s}_eye"),
        ("{s}_eye", "{s}_ear"),
        ("{s}_ear", "{s}_shoulder"),
        ("{s}_shoulder", "{s}_elbow"),
        ("{s}_elbow", "{s}_wrist"),
        ("{s}_shoulder", "{s}_hip"),
        ("{s}_hip", "{s}_knee"),
        ("{s}_knee", "{s}_ankle"),
    ],
    centre=["left_hip", "right_hip"],
    torso_top=["left_shoulder", "right_shoulder"],
    graph_centre=["left_shoulder", "right_shoulder"],
    mirror=_mirror(_COCO, "left", "right"),
)

#: name -> joint format
FORMATS: dict[str, JointFormat] = {
    f.name: f for f in (KINECT_V1_20, KINECT_V2_25, BLAZEPOSE_33, COCO_17)
}


def joint_format(name: str) -> JointFormat:
    """The registered format ``name``; :class:`~harfuse.config_schema.ConfigError` (a
    ValueError) naming it, the closest known name and all known names otherwise."""
    if name not in FORMATS:
        raise ConfigError(
            f"unknown joint format {name!r}{did_you_mean(name, FORMATS)}"
            f" (known: {', '.join(sorted(FORMATS))})"
        )
    return FORMATS[name]


def format_for_joints(num_joints: int) -> JointFormat:
    """The one registered format with ``num_joints`` joints; ValueError when none or
    several have that many (name the format then)."""
    found = [f for f in FORMATS.values() if f.num_joints == num_joints]
    if len(found) != 1:
        counts = ", ".join(f"{f.name} ({f.num_joints})" for f in FORMATS.values())
        what = "no" if not found else "more than one"
        raise ValueError(
            f"{what} joint format has {num_joints} joints; name one with joint_format= "
            f"(known: {counts})"
        )
    return found[0]
