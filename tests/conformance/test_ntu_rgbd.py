"""NTU RGB+D as its authors publish it: the missing-skeleton lists and a ``.skeleton`` file.

The literals below are typed from the authors' sources, never written by harfuse's fixture
code:

- the lists: github.com/shahroudy/NTURGB-D, ``Matlab/NTU_RGBD_samples_with_missing_skeletons.txt``
  (commit 21ac3e2f) and ``Matlab/NTU_RGBD120_samples_with_missing_skeletons.txt`` (commit
  36fdf831): two lines of prose, a blank line, then one sample name a line;
- the ``.skeleton`` grammar: the authors' reader ``Matlab/read_skeleton_file.m`` (commit
  80eba4ca): a frame count; per frame a body count; per body ``bodyID`` (``%ld``), six
  integers, ``leanX leanY`` and ``trackingState``, a joint count, then per joint 11 numbers
  and a tracking state. The body line and the first two joint lines are those of
  ``S001C001P001R001A001.skeleton``, frame 1, as quoted in the dataset descriptions that
  reproduce it (the released files end lines in CRLF).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harfuse.datasets import LayoutError, scan_dataset
from harfuse.datasets.ntu_rgbd import (
    LISTED_REASON,
    MISSING_LIST,
    official_missing_list,
    read_missing_list,
)
from harfuse.media.skeleton import read_ntu_skeleton
from harfuse.stages.report import markdown_quarantine

# the first five lines of each list, byte for byte
LIST_60_HEAD = (
    b'302 of the captured samples in the "NTU RGB+D" dataset have missing or incomplete '
    b"skeleton data.\n"
    b"If you are working on skeleton-based analysis, please ignore these files in your "
    b"training and testing procedures.\n"
    b"\n"
    b"S001C002P005R002A008\n"
    b"S001C002P006R001A008\n"
)
LIST_120_HEAD = (
    b'535 of the captured samples in the "NTU RGB+D 120" dataset have missing or incomplete '
    b"skeleton data.\n"
    b"If you are working on skeleton-based analysis, please ignore these files in your "
    b"training and testing procedures.\n"
    b"\n"
    b"S001C002P005R002A008\n"
    b"S001C002P006R001A008\n"
)


@pytest.mark.parametrize("head", [LIST_60_HEAD, LIST_120_HEAD], ids=["60", "120"])
def test_a_list_as_published_reads_its_names_past_the_prose(tmp_path, head):
    path = tmp_path / "list.txt"
    path.write_bytes(head)
    assert read_missing_list(path) == {"S001C002P005R002A008", "S001C002P006R001A008"}
    path.write_bytes(head.replace(b"\n", b"\r\n"))  # as saved on Windows
    assert read_missing_list(path) == {"S001C002P005R002A008", "S001C002P006R001A008"}
    path.write_bytes(head.split(b"\n\n")[0])  # the prose alone
    with pytest.raises(LayoutError, match=r"list\.txt: no sample name"):
        read_missing_list(path)


def test_the_shipped_lists_are_the_authors_with_their_source():
    sixty, all_120 = (read_missing_list(official_missing_list(v)) for v in (60, 120))
    assert (len(sixty), len(all_120)) == (302, 535) and sixty <= all_120
    for version, head in ((60, LIST_60_HEAD), (120, LIST_120_HEAD)):
        text = official_missing_list(version).read_bytes()
        assert b"github.com/shahroudy/NTURGB-D" in text.split(b"\n")[1] + text.split(b"\n")[0]
        assert head in text, "the authors' text follows the header unchanged"
        assert official_missing_list(version).name == MISSING_LIST[version]


# S001C001P001R001A001.skeleton, frame 1: the body line and joints 1-2 (spine base, mid)
BODY_A = "72057594037931101 0 1 1 1 1 0 0.02764709 0.05745083 2"
JOINTS_A = (
    "0.2181153 0.1725972 3.785547 277.419 191.8218 1036.233 519.1677 -0.2059419 0.05349901 "
    "0.9692109 -0.1239193 2",
    "0.2323292 0.4326636 3.714767 279.2439 165.8569 1041.918 444.3235 -0.2272637 0.05621852 "
    "0.964434 -0.1227094 2",
)


def _joint_lines(x0: float, t: int, real: tuple[str, ...] = ()) -> list[str]:
    """25 joint lines of a body at ``x0`` m moving 5 cm a frame; ``real`` replaces the first."""
    lines = list(real)
    for j in range(len(real), 25):
        x, y, z = x0 + 0.05 * t + 0.01 * j, 0.8 - 0.04 * j, 3.7
        lines.append(f"{x:.7g} {y:.7g} {z:.7g} 280 170 1040 450 0.9 0 0.1 0 2")
    return lines


def _skeleton_text() -> str:
    """5 frames: actor A alone; no body; A and B; A, a one-frame ghost G and B; A and B."""
    frames = [["A"], [], ["A", "B"], ["A", "G", "B"], ["A", "B"]]
    ids = {"A": BODY_A, "B": "72057594037931102 0 1 1 1 1 0 0.1 -0.02 2"}
    ids["G"] = "72057594037931190 1 0 0 0 0 0 0 0 1"
    x0 = {"A": 0.2, "B": -0.6, "G": 1.5}
    out = [str(len(frames))]
    for t, bodies in enumerate(frames):
        out.append(str(len(bodies)))
        for b in bodies:
            out += [ids[b], "25"]
            out += _joint_lines(x0[b], t, JOINTS_A if (b, t) == ("A", 0) else ())
    return "\r\n".join(out) + "\r\n"


def test_a_skeleton_file_by_the_authors_reader_keeps_the_actors(tmp_path):
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_bytes(_skeleton_text().encode("ascii"))
    track = read_ntu_skeleton(path, max_bodies=2)
    assert track.joints.shape == (5, 2, 25, 3) and track.fps == 30.0
    # A (most motion) first, B second; G (one frame, no motion) left out; frame 2 empty
    assert track.detected.tolist() == [
        [True, False],
        [False, False],
        [True, True],
        [True, True],
        [True, True],
    ]
    np.testing.assert_allclose(
        track.joints[0, 0, :2], [[0.2181153, 0.1725972, 3.785547], [0.2323292, 0.4326636, 3.714767]]
    )
    np.testing.assert_allclose(track.joints[3, 1, 0], [-0.6 + 0.15, 0.8, 3.7], atol=1e-6)
    assert not track.joints[1].any()


def test_default_sets_aside_exactly_the_listed_samples_present_and_the_report_counts_them(
    tmp_path,
):
    root = tmp_path / "NTU"
    # two listed samples and one not listed, in both folders; one listed only as skeleton
    listed = ["S001C002P005R002A008", "S017C003P020R001A059"]
    kept = ["S001C001P001R001A001"]
    for name in listed + kept:
        for rel in (f"nturgb+d_rgb/{name}_rgb.avi", f"nturgb+d_skeletons/{name}.skeleton"):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).touch()
    found = scan_dataset(root, "ntu_rgbd", version=60)
    reason = f"{LISTED_REASON} ({MISSING_LIST[60]}, as published)"
    assert found.quarantine == [
        {"sample_id": n, "stage": "manifest", "reason": reason, "label": label}
        for n, label in zip(listed, ["sitting_down", "walking_towards_each_other"], strict=True)
    ]
    assert found.notes[0] == f"2 samples set aside up front, {reason}"  # the report says it
    df = found.samples.set_index("sample_id")
    assert (df.loc[listed, "skeleton_path"] == "").all()
    assert df.loc[listed, "video_path"].str.endswith("_rgb.avi").all()
    assert df.loc[kept[0], "skeleton_path"].endswith(".skeleton")
    lines = markdown_quarantine(pd.DataFrame(found.quarantine)[["sample_id", "stage", "reason"]])
    assert f"- manifest, 2 samples: {reason}" in lines
    # version 120 takes the 120 list, which names the same two
    assert len(scan_dataset(root, "ntu_rgbd", version=120).quarantine) == 2
    # none: nothing set aside
    assert scan_dataset(root, "ntu_rgbd", missing_skeletons="none").quarantine == []
