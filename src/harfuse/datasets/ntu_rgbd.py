"""NTU RGB+D 60 and 120: ``nturgb+d_rgb/{name}_rgb.avi``,
``nturgb+d_skeletons/{name}.skeleton`` and the masked depth maps
``nturgb+d_depth_masked/{name}/MDepth-{n:08d}.png`` (one folder per sample, read by
:mod:`harfuse.modalities.depth`), ``name`` = ``S{sss}C{ccc}P{ppp}R{rrr}A{aaa}`` (setup,
camera, performer, replication, action; 3 digits each).

Any of the folders may be absent (a skeleton-only or video-only copy), not all; when a
folder is present, a sample lacking its file there keeps the modalities it has and gets a
quarantine row for the missing one. ``.skeleton`` files are only listed here; the skeleton
stage reads them (:func:`harfuse.media.skeleton.read_ntu_skeleton`).

``version: 60`` takes setups S001-S017, actions A001-A060 and performers P001-P040;
files of NTU RGB+D 120's additions in the same folders (its release unpacks into the same
folder names) are left out, not quarantined, like the classes outside ``dataset.classes``,
and the log says how many. ``version: 120`` takes S001-S032, A001-A120, P001-P106. Names
outside NTU RGB+D 120's ranges are quarantined.

Manifest columns: ``subject`` = performer, ``session`` = setup, ``trial`` = replication,
``camera`` (1-3). Splits (the authors' protocols): ``cross_subject`` (the official
training performers train, the others test) for both versions; ``cross_view`` (60 only:
cameras 2 and 3 train, camera 1 tests); ``cross_setup`` (120 only: even setups train, odd
setups test).

``missing_skeletons``: which samples' skeletons to set aside up front as missing or
incomplete. ``official`` (the default) takes the NTU RGB+D authors' list for ``version``:
``NTU_RGBD_samples_with_missing_skeletons.txt`` (302 samples) or
``NTU_RGBD120_samples_with_missing_skeletons.txt`` (535, the 302 among them), shipped with
harfuse as published in github.com/shahroudy/NTURGB-D (``Matlab/``), so that results follow
the protocol that the skeleton literature reports on. Otherwise a path to a list of your own
(relative to the root, or absolute), or ``none`` (or null) for no list. A list is read as
the authors publish it: lines that are not a sample name (their two lines of prose, blank
lines) are skipped, a ``.skeleton`` suffix is allowed. A listed sample keeps its video,
loses its ``skeleton_path`` and gets a quarantine row with the reason
:data:`LISTED_REASON`; the report counts them.

Classes: the 120 official action names (the dataset's README, A1-A120) in official order,
lowercased with runs of other characters turned into ``_`` and apostrophes dropped
(``eat meal/snack`` -> ``eat_meal_snack``), like the UTD-MHAD action names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harfuse.config_schema import ConfigError
from harfuse.datasets import Scan
from harfuse.datasets.common import LayoutError, finish_rows, safe_id
from harfuse.datasets.fixture_media import tiny_video
from harfuse.media.skeleton import KINECT_V2_ARMS, KINECT_V2_REST, moving_figure

log = logging.getLogger(__name__)

#: the official action names, A1 first
OFFICIAL_ACTIONS = (
    "drink water",
    "eat meal/snack",
    "brushing teeth",
    "brushing hair",
    "drop",
    "pickup",
    "throw",
    "sitting down",
    "standing up (from sitting position)",
    "clapping",
    "reading",
    "writing",
    "tear up paper",
    "wear jacket",
    "take off jacket",
    "wear a shoe",
    "take off a shoe",
    "wear on glasses",
    "take off glasses",
    "put on a hat/cap",
    "take off a hat/cap",
    "cheer up",
    "hand waving",
    "kicking something",
    "reach into pocket",
    "hopping (one foot jumping)",
    "jump up",
    "make a phone call/answer phone",
    "playing with phone/tablet",
    "typing on a keyboard",
    "pointing to something with finger",
    "taking a selfie",
    "check time (from watch)",
    "rub two hands together",
    "nod head/bow",
    "shake head",
    "wipe face",
    "salute",
    "put the palms together",
    "cross hands in front (say stop)",
    "sneeze/cough",
    "staggering",
    "falling",
    "touch head (headache)",
    "touch chest (stomachache/heart pain)",
    "touch back (backache)",
    "touch neck (neckache)",
    "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person",
    "kicking other person",
    "pushing other person",
    "pat on back of other person",
    "point finger at the other person",
    "hugging other person",
    "giving something to other person",
    "touch other person's pocket",
    "handshaking",
    "walking towards each other",
    "walking apart from each other",
    "put on headphone",
    "take off headphone",
    "shoot at the basket",
    "bounce ball",
    "tennis bat swing",
    "juggling table tennis balls",
    "hush (quite)",
    "flick hair",
    "thumb up",
    "thumb down",
    "make ok sign",
    "make victory sign",
    "staple book",
    "counting money",
    "cutting nails",
    "cutting paper (using scissors)",
    "snapping fingers",
    "open bottle",
    "sniff (smell)",
    "squat down",
    "toss a coin",
    "fold paper",
    "ball up paper",
    "play magic cube",
    "apply cream on face",
    "apply cream on hand back",
    "put on bag",
    "take off bag",
    "put something into a bag",
    "take something out of a bag",
    "open a box",
    "move heavy objects",
    "shake fist",
    "throw up cap/hat",
    "hands up (both hands)",
    "cross arms",
    "arm circles",
    "arm swings",
    "running on the spot",
    "butt kicks (kick backward)",
    "cross toe touch",
    "side kick",
    "yawn",
    "stretch oneself",
    "blow nose",
    "hit other person with something",
    "wield knife towards other person",
    "knock over other person (hit with body)",
    "grab other person's stuff",
    "shoot at other person with a gun",
    "step on foot",
    "high-five",
    "cheers and drink",
    "carry something with other person",
    "take a photo of other person",
    "follow other person",
    "whisper in other person's ear",
    "exchange things with other person",
    "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)


def class_name(action: str) -> str:
    """An official action name as a class name: lowercase, apostrophes dropped, runs of
    other characters ``_`` (``"touch other person's pocket"`` -> ``touch_other_persons_pocket``)."""
    return re.sub(r"[^a-z0-9]+", "_", re.sub(r"['’]", "", action.lower())).strip("_")


ACTIONS = tuple(class_name(a) for a in OFFICIAL_ACTIONS)
#: cross-subject training performers (the authors' protocol); the others test
TRAIN_SUBJECTS_60 = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
TRAIN_SUBJECTS_120 = frozenset(
    (
        1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38,
        45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83,
        84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103,
    )
)  # fmt: skip
#: cross-view training cameras of NTU RGB+D 60; camera 1 tests
TRAIN_CAMERAS_60 = frozenset((2, 3))
#: version -> largest (setup, camera, performer, replication, action) number
LIMITS = {60: (17, 3, 40, 2, 60), 120: (32, 3, 106, 2, 120)}
SPLITS = {60: ["cross_subject", "cross_view"], 120: ["cross_subject", "cross_setup"]}
_SAMPLE = r"S(?P<s>\d{3})C(?P<c>\d{3})P(?P<p>\d{3})R(?P<r>\d{3})A(?P<a>\d{3})"
_NAME = re.compile(rf"^(?P<name>{_SAMPLE})$")
_FILE = {
    "rgb": re.compile(rf"^(?P<name>{_SAMPLE})_rgb\.avi$"),
    "skeleton": re.compile(rf"^(?P<name>{_SAMPLE})\.skeleton$"),
    "depth": re.compile(rf"^(?P<name>{_SAMPLE})$"),
}
_PATTERN = {
    "rgb": "S{sss}C{ccc}P{ppp}R{rrr}A{aaa}_rgb.avi",
    "skeleton": "S{sss}C{ccc}P{ppp}R{rrr}A{aaa}.skeleton",
    "depth": "S{sss}C{ccc}P{ppp}R{rrr}A{aaa} depth folder",
}


def sample_numbers(name: str) -> tuple[int, int, int, int, int]:
    """``(setup, camera, performer, replication, action)`` of ``S001C002P003R002A013``."""
    m = _NAME.match(name)
    if not m:
        raise ValueError(
            f"{name!r} is not an NTU RGB+D name S{{sss}}C{{ccc}}P{{ppp}}R{{rrr}}A{{aaa}}"
        )
    return int(m["s"]), int(m["c"]), int(m["p"]), int(m["r"]), int(m["a"])


def in_version(numbers: Sequence[int], version: int) -> bool:
    """Whether a sample's numbers lie within NTU RGB+D ``version``'s ranges."""
    return all(1 <= n <= top for n, top in zip(numbers, LIMITS[version], strict=True))


#: the quarantine reason of a sample in a missing-skeleton list (the list is named after it)
LISTED_REASON = "in the authors' list of samples with missing or incomplete skeletons"
#: the authors' file name of each version's list (its copy ships in ``ntu_lists/``)
MISSING_LIST = {
    60: "NTU_RGBD_samples_with_missing_skeletons.txt",
    120: "NTU_RGBD120_samples_with_missing_skeletons.txt",
}
#: ``missing_skeletons`` values that mean no list
NO_LIST = (None, "none")


def official_missing_list(version: int) -> Path:
    """The NTU RGB+D authors' missing-skeleton list for ``version`` (60 or 120), as shipped
    in this package."""
    return Path(__file__).with_name("ntu_lists") / MISSING_LIST[version]


def missing_list_path(root: Path, version: int, missing_skeletons: str | None) -> Path | None:
    """The list file that ``dataset.options.missing_skeletons`` names (``official``, a path
    relative to ``root`` or absolute, or ``none``/null: ``None``)."""
    if missing_skeletons in NO_LIST:
        return None
    if missing_skeletons == "official":
        return official_missing_list(version)
    return root / missing_skeletons


def read_missing_list(path: Path) -> set[str]:
    """Sample names of a missing-skeleton list as the authors publish it: one name per
    line (an optional ``.skeleton`` suffix), other lines (their prose header, blank lines)
    skipped. :class:`LayoutError` when no line is a sample name."""
    names = set()
    for line in path.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        name = line.strip().removesuffix(".skeleton")
        if _NAME.match(name):
            names.add(name)
    if not names:
        raise LayoutError(
            f"{path}: no sample name S{{sss}}C{{ccc}}P{{ppp}}R{{rrr}}A{{aaa}} on any line "
            "(dataset.options.missing_skeletons: a list of sample names, one per line)"
        )
    return names


def check_root(
    root: Path,
    version: int,
    rgb_dir: str,
    skeleton_dir: str,
    missing_skeletons: str | None,
    depth_dir: str = "nturgb+d_depth_masked",
) -> dict[str, Path]:
    """``{"rgb" | "skeleton" | "depth": folder}`` for the folders present (at least one),
    or :class:`LayoutError` (no folder, the missing-skeleton list not found) /
    :class:`ConfigError` (``version`` not 60 or 120)."""
    if version not in LIMITS:
        raise ConfigError(f"dataset.options.version: {version!r}; NTU RGB+D is 60 or 120")
    named = (("rgb", rgb_dir), ("skeleton", skeleton_dir), ("depth", depth_dir))
    folders = {kind: root / name for kind, name in named if (root / name).is_dir()}
    if not folders:
        raise LayoutError(
            f"none of {rgb_dir}, {skeleton_dir}, {depth_dir} found under {root} (ntu_rgbd layout)"
        )
    listed = missing_list_path(root, version, missing_skeletons)
    if listed is not None and not listed.is_file():
        raise LayoutError(
            f"dataset.options.missing_skeletons: {listed} not found (ntu_rgbd layout; "
            "official, a path relative to the root or absolute, or none)"
        )
    return folders


def absent_modalities(
    root: Path, rgb_dir: str, skeleton_dir: str, depth_dir: str
) -> dict[str, str]:
    """The modalities a copy without one of the folders cannot give, and why (known
    before the manifest: the variants reading them will be skipped)."""
    absent = {}
    if not (root / rgb_dir).is_dir():
        absent["rgb"] = absent["flow"] = f"{rgb_dir}/ not found under {root}"
    for modality, folder in (("skeleton", skeleton_dir), ("depth", depth_dir)):
        if not (root / folder).is_dir():
            absent[modality] = f"{folder}/ not found under {root}"
    return absent


def list_files(
    folders: dict[str, Path], version: int
) -> tuple[dict[str, dict[str, Path]], list[dict[str, str]], int]:
    """``({sample name: {"rgb" | "skeleton" | "depth": file or folder}}, quarantine rows
    of entries that are not sample files, files of NTU RGB+D 120's additions left out of
    version 60)``."""
    found: dict[str, dict[str, Path]] = {}
    quarantine: list[dict[str, str]] = []
    other_version = 0
    for kind, folder in folders.items():
        for path in sorted(folder.iterdir()):
            m = _FILE[kind].match(path.name)
            numbers = sample_numbers(m["name"]) if m else ()
            if m and in_version(numbers, version):
                found.setdefault(m["name"], {})[kind] = path
            elif m and in_version(numbers, 120):
                other_version += 1
            else:
                ranges = " within S001-S032, C001-C003, P001-P106, R001-R002, A001-A120"
                reason = f"{path}: not an NTU RGB+D {_PATTERN[kind]} name{ranges if m else ''}"
                quarantine.append(
                    {"sample_id": safe_id(path.stem), "stage": "manifest", "reason": reason}
                )
    return found, quarantine, other_version


def sample_row(name: str, files: dict[str, Path], skeleton: Path | None, version: int) -> dict:
    """The manifest row of sample ``name`` (its video in ``files``, its ``skeleton``
    unless set aside) with the version's official splits."""
    s, c, p, r, a = sample_numbers(name)
    train_subjects = TRAIN_SUBJECTS_60 if version == 60 else TRAIN_SUBJECTS_120
    row = {
        "sample_id": name,
        "label": ACTIONS[a - 1],
        "subject": p,
        "session": s,
        "trial": r,
        "camera": c,
        "video_path": str(files.get("rgb", "")),
        "skeleton_path": str(skeleton or ""),
        "depth_path": str(files.get("depth", "")),
        "cross_subject": "train" if p in train_subjects else "test",
    }
    if version == 60:
        row["cross_view"] = "train" if c in TRAIN_CAMERAS_60 else "test"
    else:
        row["cross_setup"] = "train" if s % 2 == 0 else "test"
    return row


def scan(
    root: Path,
    version: int = 60,
    rgb_dir: str = "nturgb+d_rgb",
    skeleton_dir: str = "nturgb+d_skeletons",
    missing_skeletons: str | None = "official",
    depth_dir: str = "nturgb+d_depth_masked",
) -> Scan:
    """Manifest rows pairing each sample's video, skeleton file and depth folder."""
    folders = check_root(root, version, rgb_dir, skeleton_dir, missing_skeletons, depth_dir)
    list_path = missing_list_path(root, version, missing_skeletons)
    listed: set[str] = set()
    if list_path and "skeleton" in folders:  # a copy without skeletons has none to set aside
        listed = read_missing_list(list_path)
        source = "as published" if missing_skeletons == "official" else "your list"
        listed_reason = f"{LISTED_REASON} ({list_path.name}, {source})"
    found, quarantine, other_version = list_files(folders, version)
    if other_version:
        log.info(
            "ntu_rgbd: %d files of NTU RGB+D 120's additions left out (dataset.options.version "
            "is 60)",
            other_version,
        )
    rows = []
    for name, files in sorted(found.items()):
        skeleton = None if name in listed else files.get("skeleton")
        problems = []
        if "rgb" in folders and "rgb" not in files:
            problems.append(f"{name}_rgb.avi not found under {folders['rgb']}")
        if name in listed:
            problems.append(listed_reason)
        elif "skeleton" in folders and skeleton is None:
            problems.append(f"{name}.skeleton not found under {folders['skeleton']}")
        if "depth" in folders and "depth" not in files:
            problems.append(f"{name}/ (depth maps) not found under {folders['depth']}")
        label = ACTIONS[sample_numbers(name)[4] - 1]
        quarantine.extend(
            {"sample_id": name, "stage": "manifest", "reason": reason, "label": label}
            for reason in problems
        )
        if "rgb" in files or "depth" in files or skeleton is not None:  # else the rows say why
            rows.append(sample_row(name, files, skeleton, version))
    if not rows and other_version:
        raise LayoutError(
            f"all {other_version} files under {root} are NTU RGB+D 120 additions "
            "(S018-S032 or A061-A120); set dataset.options.version: 120 (ntu_rgbd layout)"
        )
    notes = []
    if listed:  # said even when it matched nothing: the list was applied
        present = sum(name in listed for name in found)
        notes.append(f"{present} samples set aside up front, {listed_reason}")
    classes, splits = list(ACTIONS[: LIMITS[version][4]]), SPLITS[version]
    return Scan(finish_rows(rows, classes, splits), splits, classes, quarantine, notes)


# --- fixture ------------------------------------------------------------------------------

#: fixture samples: setups x cameras x performers x actions of each version's part;
#: performers 1 and 45 train, 3 and 44 test (cross-subject); two-person actions A50, A120
FIXTURE_PARTS = {
    60: ((1, 2), (1, 2, 3), (1, 3), (1, 8, 50)),
    120: ((18, 19), (1, 2, 3), (45, 44), (61, 120)),
}
#: actions with two actors (A50-A60 and A106-A120 are the mutual actions)
_TWO_PERSON = frozenset((*range(50, 61), *range(106, 121)))
#: a fixture sample whose skeleton holds no body, listed in the fixture's missing list
FIXTURE_EMPTY = "S001C003P003R002A008"
#: a flickering false body joins the actors on camera 2; the second actor enters late
FLICKER_CAMERA = 2
SECOND_ACTOR_FROM = 3


def fixture_names(version: int = 60) -> list[str]:
    """Sample names of the fixture of ``version`` (120 includes 60's)."""
    parts = [FIXTURE_PARTS[60]] + ([FIXTURE_PARTS[120]] if version == 120 else [])
    return sorted(
        f"S{s:03d}C{c:03d}P{p:03d}R{1 + (p + a) % 2:03d}A{a:03d}"
        for setups, cameras, performers, actions in parts
        for s in setups
        for c in cameras
        for p in performers
        for a in actions
    )


def _seed(name: str) -> int:
    """A fixture sample's seed: the digits of its name."""
    return int(re.sub(r"\D", "", name)) % 2**32


def fixture_bodies(name: str) -> tuple[int, list[tuple[int, np.ndarray, np.ndarray]]]:
    """``(T, [(bodyID, xyz (T, 25, 3) metres, present (T,) bool), ...])`` of a fixture
    sample, in the order the file lists them: the flickering body (camera 2) first, so
    that only motion energy tells it from the actors."""
    _, c, _, _, a = sample_numbers(name)
    seed = _seed(name)
    rng = np.random.default_rng(seed)
    frames = int(rng.integers(20, 31))
    everywhere = np.ones(frames, bool)
    bodies = []
    if c == FLICKER_CAMERA:
        present = np.zeros(frames, bool)
        present[[0, *rng.choice(np.arange(1, frames), 3, replace=False)]] = True
        # a still, chair-like blob beside the actors
        xyz = np.repeat(0.4 * KINECT_V2_REST[None], frames, axis=0) + np.array([1.2, -0.5, 3.5])
        bodies.append(
            (72057594037900000 + seed % 1000, xyz + rng.normal(0, 0.002, xyz.shape), present)
        )
    bodies.append(
        (
            72057594037931101 + seed % 1000,
            moving_figure(KINECT_V2_REST, KINECT_V2_ARMS, frames, seed, origin=(-0.3, -0.2, 3.2)),
            everywhere,
        )
    )
    if a in _TWO_PERSON:
        second = everywhere.copy()
        second[:SECOND_ACTOR_FROM] = False
        bodies.append(
            (
                72057594037931202 + seed % 1000,
                moving_figure(
                    KINECT_V2_REST, KINECT_V2_ARMS, frames, seed + 1, origin=(0.5, -0.2, 3.4)
                ),
                second,
            )
        )
    if name == FIXTURE_EMPTY:
        bodies = []
    return frames, bodies


def _g(value: float) -> str:
    """A number as the NTU files print it (up to 7 significant digits)."""
    return f"{value:.7g}"


def skeleton_text(frames: int, bodies: Sequence[tuple[int, np.ndarray, np.ndarray]]) -> str:
    """NTU RGB+D ``.skeleton`` text of ``bodies`` ``(bodyID, xyz (T, 25, 3), present (T,))``
    over ``frames`` frames; depth/colour pixel positions are pinhole projections of xyz
    (Kinect v2: 512x424 depth, 1920x1080 colour)."""
    out = [str(frames)]
    for t in range(frames):
        here = [(body_id, xyz[t]) for body_id, xyz, present in bodies if present[t]]
        out.append(str(len(here)))
        for body_id, xyz in here:
            lean = xyz[3, :2] - xyz[0, :2]  # head over spine base: a rough lean
            out.append(f"{body_id} 0 1 1 1 1 0 {_g(lean[0])} {_g(lean[1])} 2")
            out.append("25")
            for j, (x, y, z) in enumerate(xyz):
                depth = (256 + 365.5 * x / z, 212 - 365.5 * y / z)
                colour = (960 + 1081.4 * x / z, 540 - 1081.4 * y / z)
                orientation = (0, 0, 0, 0) if j in (3, 15, 19, 21, 22, 23, 24) else (1, 0, 0, 0)
                state = 1 if j in (15, 19) else 2  # feet are often only inferred
                values = (x, y, z, *depth, *colour, *orientation)
                out.append(" ".join(_g(v) for v in values) + f" {state}")
    return "\r\n".join(out) + "\r\n"


def write_fixture(root: Path, version: int = 60) -> Path:
    """A miniature NTU RGB+D ``version`` (60 or 120): tiny ``_rgb.avi`` clips and
    ``.skeleton`` files of 20-30 frames for :func:`fixture_names`, and the authors'
    missing-skeleton list naming :data:`FIXTURE_EMPTY`, whose skeleton holds no body."""
    if version not in FIXTURE_PARTS:
        raise ValueError(f"NTU RGB+D version {version!r}: 60 or 120")
    for name in fixture_names(version):
        tiny_video(root / "nturgb+d_rgb" / f"{name}_rgb.avi", seed=_seed(name))
        out = root / "nturgb+d_skeletons" / f"{name}.skeleton"
        out.parent.mkdir(parents=True, exist_ok=True)
        frames, bodies = fixture_bodies(name)
        out.write_bytes(skeleton_text(frames, bodies).encode("ascii"))
    (root / MISSING_LIST[version]).write_text(f"{FIXTURE_EMPTY}\n")
    return root
