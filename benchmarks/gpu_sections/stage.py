"""Section ``stage``: the flow stage (``harfuse.stages.flow.run``: shard read, flow,
quantisation, chunks compressed and written) on a frames shard of the demo at 340x256
against the bare kernel on the same frames already on the device: is the GPU fed?"""

from __future__ import annotations

import statistics
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from gpu_sections.flow import flow_kernel
from gpu_sections.runner import Check, config, empty_cache, error_text


def stage_frames(check: Check) -> Path:
    """The demo's frames shard at the stage section's size (made when not prepared)."""
    from harfuse.stages import frames

    path = check.prepared("shards/frames_stage.h5")
    if not path.exists():
        demo = check.demo()
        params = {**config()["frames"], **check.sizes.stage_frames}
        frames.run(demo["manifest"], 0, path, params, "skip")
    return path


def prepare(check: Check) -> None:
    stage_frames(check)


def run(check: Check, deadline: float) -> None:
    """flow.run on a frames shard at the stage size against the kernel on the same frames
    (device-resident), in the stage's per-clip batches and pooled across clips."""
    frames_path = stage_frames(check)
    for mi, method in enumerate(check.sizes.stage_methods):
        label = "tvl1 fast" if method == "tvl1" else method
        if time.monotonic() > deadline:
            check.add("stage", f"{label} flow stage", "skipped: budget", key=(mi, 0))
            continue
        # the methods left share what is left
        share = (deadline - time.monotonic()) / (len(check.sizes.stage_methods) - mi)
        try:
            stage_against_kernel(check, frames_path, method, mi, time.monotonic() + share)
        except Exception as exc:
            traceback.print_exc()
            check.add("stage", f"{label} flow stage", "error", notes=error_text(exc), key=(mi, 0))
            empty_cache(check)


def stage_clips(check: Check, method: str, clips: list[np.ndarray], seconds: float) -> int:
    """How many of ``clips`` (from the first) the stage and the two kernel timings can
    take in ``seconds``, from the flow section's eager per-pair time of ``method`` at its
    smallest batch (an over-estimate for larger batches); all of them when unmeasured."""
    measured = sorted(
        (b, s) for (m, v, b), s in check.per_pair.items() if (m, v) == (method, "eager")
    )
    if not measured:
        return len(clips)
    per_pair = measured[0][1]
    total, n = 0.0, 0
    for clip in clips:
        total += (len(clip) - 1) * per_pair * 3 * 1.5  # stage + 2 kernel timings, margin
        if n and total > seconds:
            break
        n += 1
    return n


def stage_against_kernel(
    check: Check, frames_path: Path, method: str, mi: int, deadline: float
) -> None:
    from harfuse.flow.compute import to_gray
    from harfuse.stages import flow
    from harfuse.store.shards import ShardReader, ShardWriter

    label = "tvl1 fast" if method == "tvl1" else method
    reader = ShardReader(frames_path)
    sids = reader.sample_ids()
    gray = [to_gray(reader.read(sid, "frames")) for sid in sids]
    n = stage_clips(check, label, gray, deadline - time.monotonic())
    path = frames_path
    if n < len(gray):  # a shard of the first n clips, so that the stage fits the budget
        path = check.work / f"frames_stage_{method}_{n}.h5"
        stored = reader.params
        quality = stored.get("jpeg_quality") if stored.get("storage") == "jpeg" else None
        with ShardWriter(path, "frames", stored) as writer:
            for sid in sids[:n]:
                writer.write(sid, "frames", reader.read(sid, "frames"), {}, quality)
        gray = gray[:n]
    reader.file.close()
    h, w = gray[0].shape[1:]
    pairs = sum(len(g) - 1 for g in gray)
    batch = check.sizes.stage_batch
    kernel = flow_kernel(check, label, compiled=False)
    on_device = [torch.from_numpy(g).to(check.device) for g in gray]
    pooled_prev = torch.cat([g[:-1] for g in on_device])
    pooled_next = torch.cat([g[1:] for g in on_device])
    params = {
        **config()["flow"],
        "method": method,
        "backend": "torch",
        "batch_size": batch,
        "mode": "fast",
        "torch_compile": False,
        "params": check.sizes.tvl1 if method == "tvl1" else check.sizes.farneback,
    }
    runs = 0

    def stage() -> None:
        nonlocal runs
        runs += 1
        flow.run(
            path,
            check.work / "stage" / f"{method}-{runs}.h5",
            params,
            "fail",
            device=check.device.type,
        )

    def per_clip() -> None:
        for g in on_device:
            for lo in range(0, len(g) - 1, batch):
                hi = min(lo + batch, len(g) - 1)
                kernel(g[lo:hi], g[lo + 1 : hi + 1])

    def pooled() -> None:
        for lo in range(0, pairs, batch):
            kernel(pooled_prev[lo : lo + batch], pooled_next[lo : lo + batch])

    kernel(on_device[0][:2], on_device[0][1:3])  # CUDA and cuDNN initialised
    check.reset_peak()
    _, stage_s = check.timed(stage, deadline, warm_up=False)
    stage_peak = check.peak()
    _, clip_s = check.timed(per_clip, deadline, warm_up=False)
    _, pooled_s = check.timed(pooled, deadline, warm_up=False)
    stage_rate, clip_rate, pooled_rate = (
        pairs / statistics.median(s) for s in (stage_s, clip_s, pooled_s)
    )
    subset = f" (the first {n} of {len(sids)}, budget)" if n < len(sids) else ""
    where = f"{n} clips{subset}, {pairs} pairs, {w}x{h}, batch {batch}"
    check.add(
        "stage",
        f"{label} flow stage end to end",
        f"{stage_rate:.1f}",
        unit="pairs/s",
        vs=f"x{stage_rate / clip_rate:.2f} vs bare kernel",
        peak_mib=stage_peak,
        notes=f"{where}; shard read, flow, uint8 codes, shard write; median of {len(stage_s)}",
        key=(mi, 0),
    )
    check.add(
        "stage",
        f"{label} bare kernel, per-clip batches",
        f"{clip_rate:.1f}",
        unit="pairs/s",
        notes=f"frames already on the device, the stage's batches; median of {len(clip_s)}",
        key=(mi, 1),
    )
    check.add(
        "stage",
        f"{label} bare kernel, pairs pooled across clips",
        f"{pooled_rate:.1f}",
        unit="pairs/s",
        vs=f"x{pooled_rate / clip_rate:.2f} vs per-clip",
        notes=f"batches of {batch} pairs from any clip; median of {len(pooled_s)}",
        key=(mi, 2),
    )
