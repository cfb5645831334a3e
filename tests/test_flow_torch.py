"""The PyTorch Farneback and TV-L1 against OpenCV (gpu-flow.md §7 thresholds), on the
CPU here and on CUDA where there is one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harfuse.flow import compute_flow, quantize
from harfuse.flow.farneback_torch import farneback

#: (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags)
SETTINGS = {
    "create_defaults": (0.5, 5, 13, 10, 5, 1.1, 0),
    "mmaction": (0.5, 3, 15, 3, 5, 1.2, 0),
    "gaussian_poly7": (0.5, 3, 15, 3, 7, 1.5, 256),
}
NAMES = ("pyr_scale", "levels", "winsize", "iterations", "poly_n", "poly_sigma", "flags")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Multi-scale blurred noise on 0..255 (float64), ``(h, w)``."""
    import cv2

    rng = np.random.default_rng(seed)
    big = sum(cv2.GaussianBlur(rng.standard_normal((h, w)), (0, 0), s) * s for s in (1.5, 4, 10))
    return (big - big.min()) / (big.max() - big.min()) * 255


def pair(matrix: np.ndarray, h: int = 96, w: int = 128, seed: int = 0) -> np.ndarray:
    """Two uint8 frames: a crop, and the same crop of the affinely warped texture."""
    import cv2

    big = texture(h + 40, w + 40, seed).astype(np.float32)
    moved = cv2.warpAffine(big, matrix, (w + 40, h + 40), flags=cv2.INTER_CUBIC)
    crop = (slice(20, 20 + h), slice(20, 20 + w))
    return np.stack([big[crop], np.clip(moved[crop], 0, 255)]).astype(np.uint8)


def affine(tx: float = 0, ty: float = 0, degrees: float = 0, zoom: float = 1) -> np.ndarray:
    import cv2

    m = cv2.getRotationMatrix2D((84.0, 68.0), degrees, zoom)
    m[:, 2] += (tx, ty)
    return m.astype(np.float32)


CASES = {
    "translation_small": pair(affine(1.5, -0.75)),
    "translation_large": pair(affine(6.3, 4.1)),
    "rotation_3deg": pair(affine(degrees=3)),
    "zoom_1.04": pair(affine(zoom=1.04)),
    "odd_size": pair(affine(1.5, -0.75), h=41, w=57),
}


def cv2_flow(frames: np.ndarray, setting: tuple) -> np.ndarray:
    return compute_flow(
        frames, "farneback", backend="cv2", **dict(zip(NAMES, setting, strict=True))
    )


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_cv2(case, setting):
    frames = CASES[case]
    ref = cv2_flow(frames, SETTINGS[setting])
    ours = compute_flow(
        frames,
        "farneback",
        backend="torch",
        device="cpu",
        **dict(zip(NAMES, SETTINGS[setting], strict=True)),
    )
    epe = np.linalg.norm(ours - ref, axis=-1)
    assert epe.mean() <= 1e-3 and np.percentile(epe, 99.9) <= 1e-2
    assert (quantize(ours) == quantize(ref)).mean() >= 0.999


def test_real_clip_batched_matches_cv2_pair_by_pair(demo_root):
    from harfuse.media.frames import FrameParams, extract_frames

    frames = extract_frames(demo_root / "RGB" / "a5_s1_t1_color.mp4", FrameParams(15.0, 48))
    ref = cv2_flow(frames, SETTINGS["mmaction"])
    ours = compute_flow(
        frames,
        "farneback",
        backend="torch",
        device="cpu",
        batch_size=5,
        **dict(zip(NAMES, SETTINGS["mmaction"], strict=True)),
    )
    assert ours.shape == ref.shape == (len(frames) - 1, 48, 48, 2)
    epe = np.linalg.norm(ours - ref, axis=-1)
    assert epe.mean() <= 1e-3 and np.percentile(epe, 99.9) <= 1e-2
    assert np.abs(ref).max() > 0.5  # the arm moves: a real test, not zero flow


def test_recovers_ground_truth_translation():
    flow = farneback(*(torch.from_numpy(f)[None] for f in CASES["translation_small"]))[0]
    interior = flow[16:-16, 16:-16].numpy()
    assert np.abs(interior.mean(axis=(0, 1)) - (1.5, -0.75)).max() < 0.05


def test_initial_flow_and_bad_flags():
    frames = CASES["translation_large"]
    init = np.zeros((1, 96, 128, 2), np.float32)
    init[..., 0], init[..., 1] = 6.0, 4.0
    ref = compute_flow(frames, backend="cv2")  # without the initial flow
    import cv2

    cv2_init = cv2.calcOpticalFlowFarneback(
        frames[0], frames[1], init[0].copy(), 0.5, 5, 13, 10, 5, 1.1, 4
    )
    ours = farneback(
        *(torch.from_numpy(f)[None] for f in frames), flags=4, initial_flow=torch.from_numpy(init)
    )[0].numpy()
    assert np.linalg.norm(ours - cv2_init, axis=-1).mean() <= 1e-3
    assert ref.shape == (1, 96, 128, 2)
    with pytest.raises(ValueError, match="unsupported Farneback flags 8"):
        farneback(torch.zeros(1, 40, 40), torch.zeros(1, 40, 40), flags=8)
    with pytest.raises(ValueError, match=r"unknown tvl1 parameters \['winsize'\]"):
        compute_flow(frames, "tvl1", backend="torch", winsize=3)


#: TV-L1 with OpenCV's defaults but no early stop (a tiny epsilon) and fewer iterations,
#: so that every pair runs the same iterations as cv2
TVL1_FIXED = {
    "epsilon": 1e-9,
    "nscales": 3,
    "warps": 3,
    "inner_iterations": 10,
    "outer_iterations": 3,
}


@pytest.mark.parametrize("case", ["translation_small", "rotation_3deg", "zoom_1.04", "odd_size"])
def test_tvl1_matches_cv2_iteration_for_iteration(case):
    frames = CASES[case]
    ref = compute_flow(frames, "tvl1", backend="cv2", **TVL1_FIXED)
    ours = compute_flow(frames, "tvl1", backend="torch", device="cpu", **TVL1_FIXED)
    epe = np.linalg.norm(ours - ref, axis=-1)
    assert epe.mean() <= 1e-3 and np.percentile(epe, 99) <= 1e-2
    assert (quantize(ours) == quantize(ref)).mean() >= 0.999


def test_tvl1_defaults_as_accurate_as_cv2():
    frames = CASES["translation_small"]
    truth = np.array([1.5, -0.75])
    ref = compute_flow(frames, "tvl1", backend="cv2")
    ours = compute_flow(frames, "tvl1", backend="torch", device="cpu")
    err_ref = np.linalg.norm(ref[:, 16:-16, 16:-16] - truth, axis=-1).mean()
    err_ours = np.linalg.norm(ours[:, 16:-16, 16:-16] - truth, axis=-1).mean()
    assert err_ours <= err_ref + 0.02 and err_ours <= 0.06
    assert np.linalg.norm(ours - ref, axis=-1).mean() <= 0.01


def test_tvl1_batch_stops_each_pair_like_alone_and_fast_equals_parity():
    from harfuse.flow.tvl1_torch import tvl1

    pairs = [CASES[n] for n in ("translation_small", "rotation_3deg", "zoom_1.04")]
    prev = torch.from_numpy(np.stack([p[0] for p in pairs]))
    nxt = torch.from_numpy(np.stack([p[1] for p in pairs]))
    params = {"nscales": 3, "warps": 2}
    batched = tvl1(prev, nxt, **params)
    alone = torch.cat([tvl1(prev[i : i + 1], nxt[i : i + 1], **params) for i in range(3)])
    torch.testing.assert_close(batched, alone, rtol=0, atol=1e-6)
    torch.testing.assert_close(tvl1(prev, nxt, mode="fast", **params), batched, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="mode must be one of"):
        tvl1(prev, nxt, mode="turbo")


@CUDA
@pytest.mark.cuda
def test_cuda_matches_cpu():
    frames = CASES["rotation_3deg"]
    for method, params in (("farneback", {}), ("tvl1", TVL1_FIXED)):
        cpu = compute_flow(frames, method, backend="torch", device="cpu", **params)
        gpu = compute_flow(frames, method, backend="torch", device="cuda", **params)
        assert np.linalg.norm(gpu - cpu, axis=-1).mean() <= 1e-3, method


def test_raft_from_a_local_weights_file(tmp_path):
    import torchvision

    from harfuse.encoders.weights import WeightsNotFoundError

    torch.manual_seed(0)
    weights = tmp_path / "raft_small.pth"
    torch.save(torchvision.models.get_model("raft_small", weights=None).state_dict(), weights)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (3, 130, 140, 3), dtype=np.uint8)
    params = {"weights": str(weights), "num_flow_updates": 2}
    flow = compute_flow(frames, "raft", device="cpu", **params)
    assert flow.shape == (2, 130, 140, 2) and np.isfinite(flow).all()
    with pytest.raises(WeightsNotFoundError, match=r"raft_small_C_T_V2-01064c6d\.pth"):
        compute_flow(frames, "raft", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match=r"needs flow\.params\.weights"):
        compute_flow(frames, "raft")
    with pytest.raises(ValueError, match="at least 128 px"):
        compute_flow(frames[:, :64, :64], "raft", device="cpu", **params)
