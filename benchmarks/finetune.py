"""Fine-tuning data pipeline: clips/s the loader delivers against clips/s a training step takes.

    .venv/bin/python benchmarks/finetune.py [--videos 32] [--batch 4] [--rounds 3]
                                            [--workers 0,1,2] [--gpu-tflops 100]

Writes JPEG frame shards (quality 95, as the frames stage) of synthetic textured, moving
videos to a temporary folder, at the demo's size and at two real sizes, then, per size:

1. loader: :func:`harfuse.data.clips.clip_loader` over a training
   :class:`~harfuse.data.clips.FrameClipSource` (random window, scale, crop, flip), one
   epoch of ``--videos`` clips in batches of ``--batch``, with each number of
   ``--workers``; the workers persist and an epoch runs before timing, so worker start-up
   and shard opening are not counted.
2. step: forward + backward + AdamW step of a randomly initialised torchvision backbone on
   uint8 clips ``(B, T, H, W, 3)`` scaled to [0, 1]: resnet18 per frame (features averaged
   over frames) and r3d_18 per clip, one step per round, on ``--threads`` torch threads
   (1 by default, as ``train.params.threads``: a ratio of one loader core to one
   training core; on a shared machine more threads mostly wait for each other).

Everything of one size runs in turn, ``--rounds`` times (A B, B A, ...), so a ratio
``loader clips/s / step clips/s`` is the median of per-round ratios measured under the
same load. Then: how many workers a GPU step needs = GPU clips/s / one worker's clips/s,
for GPU rates from the training FLOPs per clip (counted by ``FlopCounterMode``) at an
*assumed* sustained ``--gpu-tflops`` (not measured here), and for a few round rates.
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch.utils.data import DataLoader

from harfuse.data.clips import FrameClipSource, clip_loader
from harfuse.data.dataset import MultiModalDataset
from harfuse.environment import cores, describe
from harfuse.store.shards import ShardWriter
from harfuse.timing import Ratio, interleaved, rate

#: (name, frames per clip, crop (h, w), stored (h, w), frames per stored video, clips per
#: timed training step): the demo (frames.size 64, square videos of ~2 s at 8 fps); 112
#: crops from 128x171 frames (C3D / R(2+1)D convention) and 224 crops from 256-px frames
#: (Kinetics convention), of videos of 7 s at 8 fps (UCF101's mean length). One clip per
#: step at 16x224x224 keeps an r3d_18 step on one core near 10 s (a CPU step's clips/s
#: hardly depends on the batch: it is compute-bound)
SIZES = [
    ("8x64x64", 8, (64, 64), (64, 64), 16, 4),
    ("8x112x112", 8, (112, 112), (128, 171), 56, 4),
    ("16x224x224", 16, (224, 224), (256, 341), 56, 1),
]
MODELS = ("resnet18", "r3d_18")
DEMO_GPU_RATES = (100, 300, 1000, 3000)


def write_shard(path: Path, videos: int, length: int, hw: tuple[int, int]) -> None:
    """``videos`` textured videos of ``length`` frames ``hw``, moving 3 and 2 px a frame."""
    import cv2

    rng = np.random.default_rng(0)
    h, w = hw
    with ShardWriter(path, "frames", {"size": list(hw), "storage": "jpeg"}) as writer:
        for i in range(videos):
            texture = cv2.GaussianBlur(rng.uniform(0, 255, (h * 2, w * 2, 3)), (0, 0), 3)
            frames = np.stack(
                [
                    texture[(2 * t) % h : (2 * t) % h + h, (3 * t + 5 * i) % w :][:, :w]
                    for t in range(length)
                ]
            ).astype(np.uint8)
            writer.write(f"v{i:03d}", "frames", frames, jpeg_quality=95)


def epoch(loader: DataLoader, threads: int) -> int:
    """One pass over ``loader`` on one torch thread (as in a worker, and as a training job
    with ``train.params.threads: 1``); the steps then get ``threads`` back. Collating
    with 2 threads on a loaded 2-core machine took 44 ms for 4 clips of 8x64x64 against
    0.01 ms on one: OpenMP threads waiting for a busy core."""
    torch.set_num_threads(1)
    try:
        return sum(len(b["label"]) for b in loader)
    finally:
        torch.set_num_threads(threads)


def backbone(arch: str) -> torch.nn.Module:
    if arch == "resnet18":
        return torchvision.models.resnet18(num_classes=10)
    return torchvision.models.video.r3d_18(num_classes=10)


def forward(arch: str, net: torch.nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, T, H, W, 3)`` -> logits ``(B, 10)``."""
    b, t = clips.shape[:2]
    x = clips.float().div(255.0)
    if arch == "resnet18":
        frames = x.flatten(0, 1).permute(0, 3, 1, 2)  # (B*T, 3, H, W)
        return net(frames).reshape(b, t, -1).mean(1)
    return net(x.permute(0, 4, 1, 2, 3))  # (B, 3, T, H, W)


def train_step(arch: str, clips: torch.Tensor):
    """A closure running ``steps`` training steps on ``clips``."""
    net = backbone(arch)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    labels = torch.zeros(len(clips), dtype=torch.int64)

    def run(steps: int) -> None:
        for _ in range(steps):
            loss = torch.nn.functional.cross_entropy(forward(arch, net, clips), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    return run


def train_flops(arch: str, clip: tuple[int, ...]) -> float:
    """FLOPs of one clip's forward + backward (``FlopCounterMode``, on the meta device)."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        net = backbone(arch)
        clips = torch.zeros((1, *clip), dtype=torch.uint8)
    counter = FlopCounterMode(display=False)
    with counter:
        forward(arch, net, clips).sum().backward()
    return float(counter.get_total_flops())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=32, help="clips per loader epoch")
    parser.add_argument("--batch", type=int, default=4, help="loader batch size")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads of a step (train.params.threads)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    parser.add_argument("--workers", default="0,1,2", help="loader worker counts")
    parser.add_argument("--sizes", default=",".join(s[0] for s in SIZES))
    parser.add_argument(
        "--gpu-tflops", type=float, default=100.0, help="ASSUMED sustained GPU training rate"
    )
    args = parser.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    sizes = [s for s in SIZES if s[0] in args.sizes.split(",")]
    import cv2

    threads = args.threads
    torch.set_num_threads(threads)
    cv2.setNumThreads(1)  # a loader in the main process uses one core, as a worker does
    print(describe())
    print(
        f"{args.videos} videos per shard (JPEG q95), loader batch {args.batch}, "
        f"{args.rounds} interleaved rounds, {cores()} cores; steps on {threads} torch "
        f"thread(s); loader workers {workers} (1 thread each; 0 = in the main process)"
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, t, crop, stored, length, step_batch in sizes:
            shard = Path(tmp) / f"{name}.h5"
            write_shard(shard, args.videos, length, stored)
            source = FrameClipSource([shard], t, crop, train=True)
            data = MultiModalDataset(
                [f"v{i:03d}" for i in range(args.videos)], [0] * args.videos, {"rgb": source}
            )
            loaders = {
                w: clip_loader(data, args.batch, torch.device("cpu"), True, 0, w) for w in workers
            }
            for loader in loaders.values():  # start the workers, open the shard
                epoch(loader, threads)
            clips = torch.stack([torch.from_numpy(source(f"v{i:03d}")) for i in range(step_batch)])
            stepper = {arch: train_step(arch, clips) for arch in MODELS}
            for run in stepper.values():
                run(1)  # warm-up: allocator, oneDNN kernels
            runs = {f"loader {w}": (lambda ld=ld: epoch(ld, threads)) for w, ld in loaders.items()}
            runs |= {arch: (lambda r=run: r(1)) for arch, run in stepper.items()}
            seconds = interleaved(runs, args.rounds)
            row = {"size": name, "stored": f"{stored[0]}x{stored[1]}", "frames": length}
            per_clip = {
                k: [s / args.videos for s in v]
                for k, v in seconds.items()
                if k.startswith("loader")
            }
            per_clip |= {a: [s / step_batch for s in seconds[a]] for a in MODELS}
            for w in workers:
                row[f"loader {w}"] = rate(args.videos, seconds[f"loader {w}"])
            for arch in MODELS:
                row[arch] = rate(step_batch, seconds[arch])
                row[f"flops {arch}"] = train_flops(arch, (t, *crop, 3))
                for w in workers:
                    row[f"ratio {w} {arch}"] = Ratio.of(per_clip[arch], per_clip[f"loader {w}"])
            results.append(row)
            del loaders, stepper, runs  # shuts the workers down
            print(f"{name} done", flush=True)

    print()
    print("clips/s, median round (one worker's rate = 'loader 1'):")
    print()
    head = [
        "clip T x H x W",
        "stored frames",
        *(f"loader {w} workers" for w in workers),
        *(f"{a} step" for a in MODELS),
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        cells = [r["size"], f"{r['stored']}, {r['frames']} per video"]
        cells += [f"{r[f'loader {w}']:.1f}" for w in workers]
        cells += [f"{r[a]:.2f}" for a in MODELS]
        print("| " + " | ".join(cells) + " |")
    print()
    print("loader clips/s / step clips/s, median (min, max) over rounds:")
    print()
    head = ["clip", "step", *(f"{w} workers" for w in workers)]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        for a in MODELS:
            cells = [r["size"], a, *(str(r[f"ratio {w} {a}"]) for w in workers)]
            print("| " + " | ".join(cells) + " |")
    if 1 not in workers:
        return
    print()
    print(
        f"workers a GPU step needs = GPU clips/s / one worker's clips/s (this CPU's core). "
        f"GPU clips/s ASSUMED: {args.gpu_tflops:g} TFLOP/s sustained / training FLOPs per "
        f"clip (FlopCounterMode, forward + backward); not measured."
    )
    print()
    head = [
        "clip",
        "step",
        "GFLOP per clip",
        "assumed GPU clips/s",
        "workers",
        *(f"at {g} clips/s" for g in DEMO_GPU_RATES),
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        one = r["loader 1"]
        for a in MODELS:
            gpu = args.gpu_tflops * 1e12 / r[f"flops {a}"]
            cells = [
                r["size"],
                a,
                f"{r[f'flops {a}'] / 1e9:.1f}",
                f"{gpu:.0f}",
                str(math.ceil(gpu / one)),
            ]
            cells += [str(math.ceil(g / one)) for g in DEMO_GPU_RATES]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
