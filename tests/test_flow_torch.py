"""The PyTorch Farneback and TV-L1 against OpenCV (gpu-flow.md §7 thresholds), on the
CPU here and on CUDA where there is one."""

from __future__ import annotations

import functools
import shutil

import numpy as np
import pytest
import torch

from harfuse.flow import compute_flow, quantize, synthetic
from harfuse.flow.farneback_torch import farneback

#: (pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags)
SETTINGS = {
    "create_defaults": (0.5, 5, 13, 10, 5, 1.1, 0),
    "mmaction": (0.5, 3, 15, 3, 5, 1.2, 0),
    "gaussian_poly7": (0.5, 3, 15, 3, 7, 1.5, 256),
}
NAMES = ("pyr_scale", "levels", "winsize", "iterations", "poly_n", "poly_sigma", "flags")
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


CASES = {
    **{k: v for k, v in synthetic.cases(seed=0).items() if not k.startswith("moving")},
    "odd_size": synthetic.affine_pair(synthetic.affine(1.5, -0.75), h=41, w=57),
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


@pytest.mark.parametrize("case", ["rotation_3deg", "odd_size"])
def test_tvl1_one_warp_is_bit_exact_with_cv2(case):
    """One scale, one warp (sampled at whole pixels), OpenCV's early stopping and median
    filter: every operation follows OpenCV's float32 order, so the flow is bit-identical."""
    frames = CASES[case]
    params = {"nscales": 1, "warps": 1}
    ref = compute_flow(frames, "tvl1", backend="cv2", **params)
    ours = compute_flow(frames, "tvl1", backend="torch", device="cpu", **params)
    np.testing.assert_array_equal(ours, ref)


def _cv2_tvl1(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.optflow.DualTVL1OpticalFlow_create().calc(first, second, None)


def test_tvl1_defaults_within_cv2s_own_rounding_sensitivity():
    """With OpenCV's defaults, TV-L1 amplifies float rounding (early-stopping thresholds,
    median selections, 25 warps): cv2 itself moves by ~1e-3-5e-2 px mean when its input
    moves by < 1e-4 grey levels. The port must stay within that floor, and as close to
    the true flow as cv2 (gpu-flow.md §7; benchmarks/flow_parity.py has the figures)."""
    rng = np.random.default_rng(0)
    ours_epe, floor_epe, ours_codes, floor_codes = {}, {}, {}, {}
    for seed in range(3):
        for name, frames in synthetic.cases(seed).items():
            ref = _cv2_tvl1(frames[0], frames[1])
            ours = compute_flow(frames, "tvl1", backend="torch", device="cpu")[0]
            noisy = frames.astype(np.float32) / 255
            noisy[0] += rng.uniform(0, 1e-4, noisy[0].shape).astype(np.float32) / 255
            floor = _cv2_tvl1(noisy[0], noisy[1])
            for epe, codes, flow in ((ours_epe, ours_codes, ours), (floor_epe, floor_codes, floor)):
                epe.setdefault(name, []).append(np.linalg.norm(flow - ref, axis=-1).mean())
                codes.setdefault(name, []).append((quantize(flow) == quantize(ref)).mean())
            if name == "translation_small":
                inner = (slice(16, -16), slice(16, -16))
                err = [np.linalg.norm(f[inner] - (1.5, -0.75), axis=-1).mean() for f in (ours, ref)]
                assert err[0] <= err[1] + 0.02 and err[0] <= 0.06
    for name in ours_epe:
        ours, floor = np.mean(ours_epe[name]), np.mean(floor_epe[name])
        assert ours <= 1.25 * floor, (name, ours, floor)
        assert np.mean(ours_codes[name]) >= np.mean(floor_codes[name]) - 0.002, name
        if floor <= 0.01:
            assert ours <= 0.01, (name, ours)
    total = sum(np.mean(v) for v in ours_epe.values())
    assert total <= sum(np.mean(v) for v in floor_epe.values())


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


@pytest.mark.skipif(
    shutil.which("c++") is None and shutil.which("g++") is None,
    reason="torch.compile on the CPU needs a C++ compiler",
)
def test_tvl1_torch_compile_equals_eager():
    """The compiled iteration (one dynamic-shape compilation for every level and frame
    size) gives the eager flow bit for bit."""
    params = {"nscales": 2, "warps": 2}
    for case in ("rotation_3deg", "odd_size"):
        frames = np.concatenate([CASES[case], CASES[case][::-1]])
        run = functools.partial(compute_flow, frames, "tvl1", backend="torch", device="cpu")
        np.testing.assert_array_equal(run(torch_compile=True, **params), run(**params))


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


def test_tvl1_resampling_follows_opencv():
    """The pyramid resize is bit-exact with cv2.resize; the bicubic warp and the flow
    upscaling agree with cv2.remap / cv2.resize to float rounding (grid_sample, which
    normalises coordinates, was 10x further off at the borders)."""
    import cv2

    from harfuse.flow.tvl1_torch import _downscale, _upscale, _warp_bicubic

    image = CASES["rotation_3deg"][1].astype(np.float32)
    h, w = image.shape
    down = _downscale(torch.from_numpy(image)[None, None], 0.8)[0, 0].numpy()
    np.testing.assert_array_equal(down, cv2.resize(image, None, fx=0.8, fy=0.8))
    rng = np.random.default_rng(0)
    coarse = (rng.standard_normal((77, 102)) * 3).astype(np.float32)
    up = _upscale(torch.from_numpy(coarse)[None, None], (h, w))[0, 0].numpy()
    np.testing.assert_allclose(up, cv2.resize(coarse, (w, h)), rtol=0, atol=1e-4)
    ys, xs = np.mgrid[:h, :w].astype(np.float32)
    map_x = xs + (rng.standard_normal((h, w)) * 3).astype(np.float32)
    map_y = ys + (rng.standard_normal((h, w)) * 3).astype(np.float32)
    ref = cv2.remap(image, map_x, map_y, cv2.INTER_CUBIC)
    ours = _warp_bicubic(
        torch.from_numpy(image)[None, None],
        torch.from_numpy(map_x)[None],
        torch.from_numpy(map_y)[None],
    )[0, 0].numpy()
    np.testing.assert_allclose(ours, ref, rtol=0, atol=5e-4)
