"""Stage ``flow``: dense optical flow between consecutive frames of each frame shard."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from pathlib import Path
from typing import Any

from harfuse.config_schema import filled
from harfuse.data.frame_feed import Fed, decoded_frames, feed
from harfuse.device import resolve_device
from harfuse.flow.defaults import flow_backend
from harfuse.preprocess.flow import flow_field
from harfuse.stages.shard_job import SampleArrays, write_sample_shard
from harfuse.store.shards import FRAMES_PARAMS, ShardReader, encode_params


def run(
    frames_path: str | Path,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
    threads: int = 1,
    device: str = "auto",
    workers: int | None = None,
) -> None:
    """Write ``/{sample_id}/flow`` ``(T-1, H, W, 2)``: uint8 codes (``storage: uint8``,
    see :mod:`harfuse.flow.quantize`) or float16 px (``storage: float16``).

    ``threads`` (the rule's) is OpenCV's thread count for the flow and, unless
    ``workers`` says otherwise, the number of threads decoding frames ahead of it
    (:func:`frame_feed`). When the flow runs on CUDA, as many threads compress the shard's
    chunks while the GPU computes the next sample (on the CPU the flow itself uses the
    job's threads). The output does not depend on any of them.
    """
    import cv2

    cv2.setNumThreads(threads)
    frames = ShardReader(frames_path)
    ids = frames.sample_ids()
    with closing(frame_feed(frames, params, device, workers or max(1, threads))) as fed:

        def compute(sid: str) -> SampleArrays:
            item = next(fed)
            if item.sample_id != sid:  # a bug, not a bad input: stop the job
                raise RuntimeError(f"flow feed out of order: {item.sample_id} for {sid}")
            return {"flow": flow_field(item.get(), params, device)}

        write_sample_shard(
            out_path,
            "flow",
            params,
            ids,
            compute,
            on_error,
            root_attrs={FRAMES_PARAMS: encode_params(frames.params)},
            compress_threads=max(1, threads) if _runs_on_cuda(params, device) else 0,
        )


def frame_feed(
    frames: ShardReader, params: dict[str, Any], device: str, workers: int
) -> Generator[Fed, None, None]:
    """What the flow stage computes on, one :class:`Fed` per sample of ``frames`` in shard
    order: ``(T, H, W)`` uint8 gray frames (``(T, H, W, 3)`` RGB for RAFT, which takes
    colour), decoded by ``workers`` threads ahead of the flow, in pinned memory when the
    flow runs on CUDA. ``benchmarks/flow.py --compute null`` times this feed alone."""
    gray = params["method"] != "raft"
    pin = _runs_on_cuda(params, device)
    if pin:  # claim this job's GPU first: pinned buffers then use its CUDA context
        resolve_device(device)
    return feed(
        lambda sid: decoded_frames(frames, sid, gray=gray), frames.sample_ids(), workers, pin=pin
    )


def _runs_on_cuda(params: dict[str, Any], device: str) -> bool:
    """Whether :func:`harfuse.flow.compute.compute_flow` will run this config on CUDA
    (:func:`harfuse.flow.defaults.flow_backend`, as the rule's resources say)."""
    import torch

    backend = filled(params, "flow")["backend"]
    return flow_backend(params["method"], backend, device, torch.cuda.is_available())[1]
