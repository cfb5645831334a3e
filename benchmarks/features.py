"""Feature extraction throughput: harfuse's batched encoders vs a plain torchvision loop.

    .venv/bin/python benchmarks/features.py [--clips 16] [--device auto] [--rounds 3]

For each encoder, the same random uint8 clips (frames x size from the table below) go
through (a) ``harfuse.encoders.extract.encode_clips`` with the registry's frozen encoder,
batched, and (b) a plain loop: one clip at a time through the same torchvision model with
the normalisation done in the loop, as feature-extraction scripts usually do. Prints
clips/s for both (median round) and the ratio (a) / (b) (target >= 1.0) as the median
over ``--rounds`` interleaved rounds with its min and max. Random weights: speed does not
depend on them, and nothing is downloaded.
"""

from __future__ import annotations

import argparse
import functools

import numpy as np
import torch

from harfuse.device import resolve_device
from harfuse.encoders import create_encoder
from harfuse.encoders.extract import encode_clips
from harfuse.environment import describe
from harfuse.timing import Ratio, interleaved, rate

#: encoder -> (frames per clip, side in px)
SETUPS = {
    "resnet18": (8, 112),
    "resnet50": (8, 112),
    "vgg16": (1, 224),
    "r3d_18": (8, 112),
    "r2plus1d_18": (8, 112),
    "s3d": (14, 224),
}


@torch.inference_mode()
def plain_loop(encoder, clips: np.ndarray, device: torch.device) -> None:
    """One clip at a time through the same backbone, normalising each frame in the loop."""
    model, mean, std = encoder.backbone, encoder.mean, encoder.std
    video = type(encoder).__name__ == "ClipEncoder"
    for c in clips:
        x = torch.from_numpy(c).to(device).permute(0, 3, 1, 2).float() / 255.0
        x = (x - mean) / std  # (T, 3, H, W)
        if video:
            model(x.transpose(0, 1)[None])
        else:
            model(x)
    if device.type == "cuda":
        torch.cuda.synchronize()


def batched(encoder, clips: np.ndarray, batch_size: int, device: torch.device) -> None:
    """harfuse's ``encode_clips`` (synchronised on CUDA)."""
    encode_clips(encoder, clips, batch_size, device)
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--encoders", default="resnet18,resnet50,r3d_18,r2plus1d_18")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    args = parser.parse_args()
    device = resolve_device(args.device)
    print(describe())
    print(
        f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else 'CPU'}), "
        f"{torch.get_num_threads()} threads, {args.clips} clips, batch {args.batch_size}, "
        f"{args.rounds} rounds"
    )
    rng = np.random.default_rng(0)
    for name in args.encoders.split(","):
        frames, side = SETUPS[name]
        clips = rng.integers(0, 255, (args.clips, frames, side, side, 3), dtype=np.uint8)
        encoder = create_encoder(name, weights="none").to(device)
        encode_clips(encoder, clips[:2], 2, device)  # warm-up
        plain_loop(encoder, clips[:2], device)
        seconds = interleaved(
            {
                "harfuse": functools.partial(batched, encoder, clips, args.batch_size, device),
                "plain": functools.partial(plain_loop, encoder, clips, device),
            },
            args.rounds,
        )
        print(
            f"{name:12s} {frames:2d}x{side}px: harfuse {rate(args.clips, seconds['harfuse']):7.2f}"
            f" clips/s, plain loop {rate(args.clips, seconds['plain']):7.2f} clips/s, "
            f"ratio {Ratio.of(seconds['plain'], seconds['harfuse'])}"
        )


if __name__ == "__main__":
    main()
