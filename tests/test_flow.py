import numpy as np
import pytest

from harfuse.flow import compute_flow, dequantize, quantize
from harfuse.flow.quantize import flow_scale


def textured_pair(shift_xy: tuple[int, int], size: int = 64) -> np.ndarray:
    """Two gray frames of smooth random texture, the second shifted by ``shift_xy`` px."""
    import cv2

    rng = np.random.default_rng(0)
    big = cv2.GaussianBlur(rng.uniform(0, 255, (size + 20, size + 20)), (0, 0), 2.0)
    dx, dy = shift_xy
    first = big[10 : 10 + size, 10 : 10 + size]
    second = big[10 - dy : 10 - dy + size, 10 - dx : 10 - dx + size]
    return np.stack([first, second]).astype(np.uint8)


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_flow_recovers_translation(method):
    flow = compute_flow(textured_pair((2, -1)), method)
    assert flow.shape == (1, 64, 64, 2) and flow.dtype == np.float32
    interior = flow[0, 12:-12, 12:-12]
    assert np.median(interior[..., 0]) == pytest.approx(2.0, abs=0.15)
    assert np.median(interior[..., 1]) == pytest.approx(-1.0, abs=0.15)


def test_flow_accepts_rgb_and_rejects_bad_input():
    gray = textured_pair((1, 0))
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    np.testing.assert_allclose(compute_flow(rgb), compute_flow(gray), atol=1e-6)
    with pytest.raises(ValueError, match="at least 2 frames"):
        compute_flow(gray[:1])
    with pytest.raises(ValueError, match="unknown flow method 'lk'"):
        compute_flow(gray, "lk")
    with pytest.raises(ValueError, match=r"unknown farneback parameters \['window'\]"):
        compute_flow(gray, window=3)


def test_quantization_convention():
    bound = 20.0
    step = 2 * bound / 255
    codes = quantize(np.array([-bound, -100.0, 0.0, bound, 100.0]), bound)
    assert codes.tolist() == [0, 0, 128, 255, 255]
    assert flow_scale(bound) == pytest.approx(255 / 40)
    x = np.linspace(-bound, bound, 10001)
    err = np.abs(dequantize(quantize(x, bound), bound) - x)
    assert err.max() <= step / 2 + 1e-5
    with pytest.raises(ValueError, match="bound must be > 0"):
        quantize(x, 0.0)


def test_flow_from_config_forwards_every_key():
    from flow_cases import affine, affine_pair

    from harfuse.flow.compute import flow_from_config

    frames = affine_pair(affine(1.5, -0.75), h=41, w=57)
    config = {"method": "tvl1", "backend": "torch", "batch_size": 1, "params": {"warps": 1}}
    direct = compute_flow(frames, "tvl1", backend="torch", device="cpu", warps=1)
    np.testing.assert_array_equal(flow_from_config(frames, config, "cpu"), direct)
    with pytest.raises(ValueError, match="mode must be one of"):
        flow_from_config(frames, {**config, "mode": "turbo"}, "cpu")
    with pytest.raises(ValueError, match=r"unknown tvl1 parameters \['winsize'\]"):
        flow_from_config(frames, {**config, "params": {"winsize": 3}}, "cpu")


def test_auto_backend_follows_the_device(monkeypatch):
    """``backend: auto`` takes the torch port only where the job runs on CUDA: with
    ``device: cpu`` on a GPU node it stays with cv2 (faster than torch on a CPU)."""
    from harfuse.flow import compute

    calls: list[str] = []
    monkeypatch.setattr(compute, "_cuda_available", lambda: True)
    monkeypatch.setattr(compute, "_torch_flow", lambda *a, **k: calls.append("torch"))
    monkeypatch.setattr(compute, "_cv2_flow", lambda *a, **k: calls.append("cv2"))
    frames = np.zeros((2, 16, 16), np.uint8)
    for device in ("cpu", "auto", "cuda"):
        compute.compute_flow(frames, "farneback", backend="auto", device=device)
    assert calls == ["cv2", "torch", "torch"]


@pytest.mark.parametrize("cuda", [False, True])
def test_the_flow_rules_resources_match_what_its_jobs_run_on(monkeypatch, cuda):
    """One decision (flow.defaults.flow_backend) for the job and the rule, in every allowed
    combination; RAFT with backend cv2 is a torch model on the GPU, and asks for one."""
    import shutil

    import torch

    from harfuse.plan import flow_resources
    from harfuse.stages.flow import _runs_on_cuda

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/nvidia-smi" if cuda else None)
    for method in ("farneback", "tvl1", "raft"):
        for backend in ("auto", "cv2", "torch"):
            for device in ("auto", "cpu", "cuda"):
                if device == "cuda" and not cuda:
                    continue  # refused before any job (device_problems)
                config = {"device": device, "flow": {"method": method, "backend": backend}}
                declared = flow_resources(config)
                runs_on_gpu = _runs_on_cuda({"method": method, "backend": backend}, device)
                assert declared["gpu"] == int(runs_on_gpu), (method, backend, device)
                assert declared["threads"] == (4 if runs_on_gpu else 1)
    raft = {"device": "auto", "flow": {"method": "raft", "backend": "cv2"}}
    assert flow_resources(raft) == ({"threads": 4, "gpu": 1} if cuda else {"threads": 1, "gpu": 0})
