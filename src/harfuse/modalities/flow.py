"""The ``flow`` modality: dense optical flow between consecutive stored frames (the flow
stage), as a stack of ``train.inputs.flow_length`` fields fitted to ``flow_size``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from harfuse.flow.quantize import dequantize
from harfuse.media.sampling import uniform_indices
from harfuse.modalities.base import Context, Modality, Stored


class Flow(Modality):
    name = "flow"
    section = "flow"
    columns = ("video_path",)
    arrays = ("flow",)
    default_encoder = "stacked_flow"
    video = "frames"
    from_frames = True

    def shard_rule(self, config: dict[str, Any]) -> str:
        return "compute_flow"

    def stage_rules(self, config: dict[str, Any]) -> tuple[str, ...]:
        return ("extract_frames", "compute_flow")

    def sections(self, options: dict[str, Any]) -> tuple[str, ...]:
        return ("frames", "flow")

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """Stored frames ``(T, H, W, 3)`` -> the flow stage's ``(T-1, H, W, 2)`` codes; one
        frame is taken as a still (prediction on a one-frame segment)."""
        from harfuse.preprocess.flow import flow_field

        return {"flow": flow_field(raw, prep["flow"], context.device, still=True)}

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        codes, attrs = stored["flow"]
        return flow_input(
            codes, float(attrs["bound"]), inputs["flow_length"], inputs.get("flow_size")
        )

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        from harfuse.plan import model_inputs

        inputs = model_inputs(config)
        return (inputs["flow_length"], *inputs["flow_size"], 2)

    def problems(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]], stages: set[str]
    ) -> list[str]:
        """RAFT's weights file, when a variant reads RAFT flow and the run reaches the flow
        or train stage."""
        flow = config["flow"]
        if flow["method"] != "raft" or not variants or not stages & {"train", "flow"}:
            return []
        from harfuse.flow.defaults import RAFT_DEFAULTS
        from harfuse.flow.raft import missing_raft_weights

        params = {**RAFT_DEFAULTS, **flow["params"]}
        why = missing_raft_weights(params["arch"], params["weights"])
        return [why] if why else []

    def report_notes(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]]
    ) -> list[str]:
        flow = config["flow"]
        return [f"flow = {flow['method']} (backend {flow['backend']}), stored as {flow['storage']}"]


def flow_input(
    stored: np.ndarray, bound: float, length: int, size: Sequence[int] | None = None
) -> np.ndarray:
    """Stored flow ``(T-1, H, W, 2)`` (uint8 codes or float16 px) -> ``(length, h, w, 2)``
    float32 px: ``length`` fields sampled uniformly in time, then fitted to ``size =
    [h, w]`` by :func:`fit_flow` (``None``: as stored)."""
    picked = stored[uniform_indices(len(stored), length)]
    flow = dequantize(picked, bound) if stored.dtype == np.uint8 else picked.astype(np.float32)
    return flow if size is None else fit_flow(flow, (int(size[0]), int(size[1])))


def fit_flow(flow: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Flow fields ``(T, H, W, 2)`` float32 px -> ``(T, h, w, 2)``: scaled (bilinear) just
    enough to cover ``h x w`` with the aspect ratio kept, then centre-cropped, as frames are
    for a CNN. The vectors are scaled with the image, so they stay in pixels of the fitted
    frame. Fields already ``h x w`` are returned unchanged (no copy, no arithmetic)."""
    import cv2

    t, height, width, _ = flow.shape
    h, w = size
    if (height, width) == (h, w):
        return flow
    scale = max(h / height, w / width)
    new_h, new_w = max(h, round(height * scale)), max(w, round(width * scale))
    if (new_h, new_w) != (height, width):
        resized = np.empty((t, new_h, new_w, 2), np.float32)
        for i in range(t):
            resized[i] = cv2.resize(flow[i], (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        resized[..., 0] *= new_w / width
        resized[..., 1] *= new_h / height
        flow = resized
    top, left = (new_h - h) // 2, (new_w - w) // 2
    return np.ascontiguousarray(flow[:, top : top + h, left : left + w])


MODALITY = Flow()
