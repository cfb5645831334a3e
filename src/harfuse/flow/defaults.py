"""Each flow method's parameters and their defaults (a leaf module: the cv2 and torch
implementations both import it, and it imports nothing of harfuse)."""

from __future__ import annotations

from typing import Any

#: ``cv::FarnebackOpticalFlow::create()`` defaults, the parity reference.
FARNEBACK_DEFAULTS: dict[str, Any] = {
    "pyr_scale": 0.5,
    "levels": 5,
    "winsize": 13,
    "iterations": 10,
    "poly_n": 5,
    "poly_sigma": 1.1,
    "flags": 0,
}
#: ``cv::optflow::DualTVL1OpticalFlow`` defaults, in snake case
TVL1_DEFAULTS: dict[str, Any] = {
    "tau": 0.25,
    "lambda_": 0.15,
    "theta": 0.3,
    "nscales": 5,
    "warps": 5,
    "epsilon": 0.01,
    "inner_iterations": 30,
    "outer_iterations": 10,
    "scale_step": 0.8,
    "median_filtering": 5,
}
#: RAFT (torchvision, torch backend only); ``weights`` is a local .pth file, required
RAFT_DEFAULTS: dict[str, Any] = {"arch": "raft_small", "weights": None, "num_flow_updates": 12}
METHODS = ("farneback", "tvl1", "raft")


def flow_backend(method: str, backend: str, device: str, cuda: bool) -> tuple[str, bool]:
    """What computes the flow, decided once for the job and the rule that schedules it:
    ``(backend, on_gpu)``, ``backend`` ``"cv2"`` or ``"torch"``. RAFT is a torch model
    whatever ``backend`` says; ``auto`` takes the torch ports on CUDA only (cv2 is faster
    on a CPU); torch runs on the GPU when ``device`` is not ``cpu`` and ``cuda`` (CUDA
    present: torch's answer in a job, ``nvidia-smi``'s when the workflow is parsed)."""
    if method == "raft" or backend == "torch":
        chosen = "torch"
    elif backend == "auto":
        chosen = "torch" if device != "cpu" and cuda else "cv2"
    else:
        chosen = "cv2"
    return chosen, chosen == "torch" and device != "cpu" and cuda
