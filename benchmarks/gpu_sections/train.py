"""Section ``train``: the demo's training jobs (``harfuse.stages.train.run`` with
``config.yaml``'s variants and train parameters) on CUDA against the CPU (1 thread, as the
demo runs), without the ``snakemake`` CLI: the stage function is what a job calls."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from gpu_sections.runner import Check, config, error_text, log


def prepare(check: Check) -> None:
    """The demo's shards (made here: the image has no PyAV to decode the demo videos)."""
    demo_shards(check, config())


def demo_shards(check: Check, cfg: dict[str, Any]) -> dict[str, Path]:
    """The demo's frames, audio, imu, skeleton, flow and frame_cnn features shards, as the
    workflow makes them from config.yaml (one shard each)."""
    from harfuse.stages import audio, features, flow, frames, sample_files

    demo = check.demo()
    m = demo["manifest"]
    names = ("frames", "audio", "imu", "skeleton", "flow", "features")
    paths = {k: check.prepared(f"shards/{k}.h5") for k in names}
    if not all(p.exists() for p in paths.values()):
        device = check.device.type
        frames.run(m, 0, paths["frames"], cfg["frames"], "skip")
        audio.run(m, 0, paths["audio"], cfg["audio"], "skip")
        sample_files.run(m, 0, paths["imu"], "imu", cfg["imu"], "skip")
        sample_files.run(m, 0, paths["skeleton"], "skeleton", cfg["skeleton"], "skip")
        flow.run(paths["frames"], paths["flow"], cfg["flow"], "skip", device=device)
        params = {
            **cfg["features"]["sets"]["frame_cnn"],
            "batch_size": 32 if check.cuda else cfg["features"]["batch_size"],
            "seed": cfg["features"]["seed"],
        }
        features.run(paths["frames"], paths["features"], params, device)
    return paths


def run(check: Check, deadline: float) -> None:
    """config.yaml's variants trained on the demo, on CUDA then on the CPU."""
    from harfuse.stages import train

    cfg = config()
    threads = torch.get_num_threads()
    start = time.perf_counter()
    paths = demo_shards(check, cfg)
    log(f"train: demo shards ready in {time.perf_counter() - start:.1f} s")
    demo = check.demo()
    devices = ["cuda", "cpu"]
    for vi, variant in enumerate(check.sizes.train_variants):
        spec = dict(cfg["train"]["variants"][variant])
        spec["params"] = {**(spec.get("params") or {}), **check.sizes.train_params}
        backbone = (spec.get("options") or {}).get("backbone")
        shard = {"rgb": "frames" if backbone else "features", "flow": "flow"}
        shards = {m: [str(paths[shard.get(m, m)])] for m in spec["modalities"]}
        setting = f"{variant} ({spec['model']}: {'+'.join(spec['modalities'])})"
        seconds: dict[str, float] = {}
        top1: dict[str, float] = {}
        for di, device in enumerate(devices):
            key = (vi, di)
            if device == "cuda" and not check.cuda:
                check.add("train", f"{setting} cuda", "skipped: no CUDA", key=key)
                continue
            if time.monotonic() > deadline:
                check.add("train", f"{setting} {device}", "skipped: budget", key=key)
                continue
            out = check.work / "train" / f"{variant}-{device}"
            check.reset_peak()
            t0 = time.perf_counter()
            try:
                train.run(
                    demo["manifest"],
                    demo["classes"],
                    shards,
                    variant,
                    spec,
                    "cross_subject",
                    {"name": "full"},
                    {**cfg["train"]["params"], **check.sizes.train_params},
                    cfg["train"]["inputs"],
                    device,
                    out,
                )
            except Exception as exc:
                check.add("train", f"{setting} {device}", "error", notes=error_text(exc), key=key)
                continue
            finally:
                torch.set_num_threads(threads)
                torch.use_deterministic_algorithms(False)  # train.run sets it for its seed
            seconds[device] = time.perf_counter() - t0
            metrics = json.loads((out / "metrics.json").read_text())
            top1[device] = metrics["top1"]
            epochs = len(metrics["history"])
            check.add(
                "train",
                f"{setting} {device}",
                f"{seconds[device]:.1f}",
                unit="s",
                peak_mib=check.peak() if device == "cuda" else "",
                notes=f"epochs {epochs}, {metrics['n_train']} train samples, top-1 "
                f"{top1[device]:.3f}",
                key=key,
            )
        if len(seconds) == 2:
            row = next(r for r in check.rows if r.key == (vi, 0) and r.section == "train")
            row.vs = f"x{seconds['cpu'] / seconds['cuda']:.2f} vs cpu"
            row.notes += f" (cpu {top1['cpu']:.3f})"
