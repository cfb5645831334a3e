"""Skeleton modality: joint formats, normalisation, the ST-GCN graph and the encoders."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harfuse.config_schema import ConfigError
from harfuse.encoders import create_encoder
from harfuse.encoders.skeleton import SkeletonGCNEncoder, SkeletonTCNEncoder
from harfuse.skeleton.formats import FORMATS, format_for_joints, joint_format
from harfuse.skeleton.graph import hop_distances, spatial_adjacency
from harfuse.skeleton.normalise import normalise_track, resample_indices
from harfuse.skeleton.track import SkeletonTrack

#: name -> (J, a joint and its index, as the source documents them)
EXPECTED = {
    "kinect_v1_20": (20, "shoulder_center", 2),
    "kinect_v2_25": (25, "spine_shoulder", 20),
    "blazepose_33": (33, "left_hip", 23),
    "coco_17": (17, "right_ankle", 16),
}


def test_every_format_is_checked():
    assert set(EXPECTED) == set(FORMATS)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_format_is_a_connected_graph(name):
    fmt = joint_format(name)
    count, joint, index = EXPECTED[name]
    assert fmt.num_joints == count and fmt.joints[index] == joint
    pairs = [tuple(sorted(e)) for e in fmt.edges]
    assert all(i != j and 0 <= i < count and 0 <= j < count for i, j in pairs)
    assert len(set(pairs)) == len(pairs)
    assert (hop_distances(fmt, (0,)) >= 0).all()
    perm = fmt.mirror_permutation()
    assert sorted(perm) == list(range(count)) and all(perm[p] == i for i, p in enumerate(perm))
    for left, right in fmt.mirror:
        assert fmt.joints[left].replace("left", "right") == fmt.joints[right]


def test_unknown_format_names_the_closest_and_the_known():
    with pytest.raises(ConfigError, match=r"'kinect_v2'.*did you mean kinect_v2_25\?.*known: "):
        joint_format("kinect_v2")
    assert format_for_joints(33).name == "blazepose_33"
    with pytest.raises(ValueError, match="no joint format has 18 joints"):
        format_for_joints(18)


def random_track(
    rng: np.random.Generator, t: int = 12, m: int = 2, fmt: str = "kinect_v1_20"
) -> SkeletonTrack:
    """A random track in metres, a body 2.5 m from the camera, some frames undetected."""
    j = joint_format(fmt).num_joints
    joints = rng.normal(0.0, 0.3, (t, m, j, 3)) + np.array([0.2, 0.1, 2.5])
    detected = rng.random((t, m)) > 0.3
    detected[0, 0] = True
    joints[~detected] = 0.0
    return SkeletonTrack(joints.astype(np.float32), detected, 30.0, fmt, ("x", "y", "z"))


def moved(track: SkeletonTrack, scale: float, shift: np.ndarray) -> SkeletonTrack:
    joints = np.where(track.detected[..., None, None], track.joints * scale + shift, 0.0)
    return SkeletonTrack(
        joints.astype(np.float32), track.detected, track.fps, track.joint_format, track.channels
    )


def test_normalising_removes_position_and_size():
    rng = np.random.default_rng(0)
    track = random_track(rng)
    x, mask = normalise_track(track, 12)
    assert x.shape == (12, 2, 20, 3) and x.dtype == np.float32
    np.testing.assert_array_equal(mask, track.detected)
    assert (x[~mask] == 0).all()
    y, _ = normalise_track(moved(track, 3.0, np.array([-1.0, 4.0, 0.5])), 12)
    np.testing.assert_allclose(x, y, atol=1e-4)

    seen = x[mask[:, 0], 0]  # body 0's detected frames, (T0, J, 3)
    fmt = joint_format("kinect_v1_20")
    hips, top = seen[:, fmt.centre].mean(axis=1), seen[:, fmt.torso_top].mean(axis=1)
    np.testing.assert_allclose(hips.mean(axis=0), 0.0, atol=1e-5)
    assert np.median(np.linalg.norm(top - hips, axis=-1)) == pytest.approx(1.0, abs=1e-5)


def test_normalising_keeps_whole_body_motion_and_visibility():
    rng = np.random.default_rng(1)
    base = random_track(rng, t=8, m=1, fmt="blazepose_33")
    walk = base.joints + np.linspace(0.0, 2.0, 8)[:, None, None, None] * np.array([1.0, 0, 0])
    visibility = rng.random((8, 1, 33, 1))
    track = SkeletonTrack(
        np.concatenate([walk, visibility], axis=-1).astype(np.float32),
        np.ones((8, 1), dtype=bool),
        30.0,
        "blazepose_33",
        ("x", "y", "z", "visibility"),
    )
    x, _ = normalise_track(track, 8)
    assert x[-1, 0, :, 0].mean() - x[0, 0, :, 0].mean() > 1.0
    np.testing.assert_allclose(x[..., 3:], visibility, atol=1e-6)


def test_resampling_is_nearest_frame_without_interpolation():
    assert resample_indices(10, 10).tolist() == list(range(10))
    assert resample_indices(10, 5).tolist() == [1, 3, 5, 7, 9]
    assert resample_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]
    rng = np.random.default_rng(2)
    track = random_track(rng, t=3, m=1)
    track.detected[1, 0] = False
    track.joints[1, 0] = 0.0
    x, mask = normalise_track(track, 6, bodies=2)
    assert x.shape == (6, 2, 20, 3)
    assert mask[:, 0].tolist() == [True, True, False, False, True, True]
    assert not mask[:, 1].any() and (x[2:4] == 0).all() and (x[:, 1] == 0).all()
    assert normalise_track(track, 6, bodies=1)[0].shape == (6, 1, 20, 3)


def test_a_track_without_a_detection_is_refused():
    rng = np.random.default_rng(3)
    track = random_track(rng)
    empty = SkeletonTrack(
        np.zeros_like(track.joints),
        np.zeros_like(track.detected),
        30.0,
        "kinect_v1_20",
        ("x", "y", "z"),
    )
    with pytest.raises(ValueError, match="no body detected"):
        normalise_track(empty, 12)


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_spatial_adjacency_partitions(name):
    fmt = joint_format(name)
    adj = spatial_adjacency(fmt)
    j = fmt.num_joints
    assert adj.shape == (3, j, j) and adj.dtype == np.float32
    sums = adj.sum(axis=1)  # (3, J): each partition's column sums
    assert np.allclose(sums[0], 1.0)
    assert np.all(np.isclose(sums, 1.0) | (sums == 0))
    support = (adj > 0).astype(int)
    assert support.sum(axis=0).max() == 1  # a pair is in one partition only
    bones = np.eye(j, dtype=int)
    for a, b in fmt.edges:
        bones[a, b] = bones[b, a] = 1
    np.testing.assert_array_equal(support.sum(axis=0), bones)


def test_centripetal_neighbours_are_nearer_the_centre():
    fmt = joint_format("kinect_v2_25")
    adj = spatial_adjacency(fmt)
    spine_base, spine_mid = fmt.joints.index("spine_base"), fmt.joints.index("spine_mid")
    assert adj[1, spine_mid, spine_base] == 1.0  # spine_mid feeds spine_base from inside
    assert adj[2, spine_base, spine_mid] == 1.0


def test_encoders_resolve_the_joint_format():
    assert SkeletonGCNEncoder.from_shape((16, 2, 25, 3)).joint_format == "kinect_v2_25"
    with pytest.raises(ValueError, match="has 17 joints, input 25"):
        SkeletonTCNEncoder.from_shape((16, 1, 25, 3), joint_format="coco_17")
    with pytest.raises(ValueError, match="no joint format has 18 joints"):
        SkeletonGCNEncoder.from_shape((16, 1, 18, 3))


def test_gcn_output_follows_the_batch_order():
    torch.manual_seed(0)
    enc = SkeletonGCNEncoder.from_shape((12, 2, 20, 3), channels=(8, 16)).eval()
    x = torch.randn(4, 12, 2, 20, 3)
    x[1, :, 1] = 0.0  # one sample with a single body
    perm = torch.tensor([2, 0, 3, 1])
    with torch.no_grad():
        torch.testing.assert_close(enc(x)[perm], enc(x[perm]))


@pytest.mark.parametrize("name", ["skeleton_gcn", "skeleton_tcn"])
def test_a_few_steps_learn_a_separable_toy_problem(name):
    """Class 0 waves along x, class 1 along y: a few Adam steps lower the loss."""
    torch.manual_seed(0)
    t, j = 12, 20
    labels = torch.arange(8) % 2
    wave = torch.sin(torch.linspace(0, 6.28, t))[None, :, None, None]  # (1, T, 1, 1)
    x = 0.1 * torch.randn(8, t, 1, j, 3)
    x[labels == 0, ..., 0] += wave
    x[labels == 1, ..., 1] += wave
    enc = create_encoder(name, joints=j, bodies=1, in_channels=3, channels=(8, 16), dropout=0.0)
    head = torch.nn.Linear(enc.out_dim, 2)
    opt = torch.optim.Adam([*enc.parameters(), *head.parameters()], lr=1e-2)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(head(enc(x)), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
