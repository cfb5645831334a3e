"""Feature extraction throughput: harfuse's batched encoders vs a plain torchvision loop;
with ``--compute null``, the rate at which the features stage's feed hands clips over.

    .venv/bin/python benchmarks/features.py [--clips 16] [--device auto] [--rounds 3]
    .venv/bin/python benchmarks/features.py --compute null [--sizes 64x64,224x224]
                                            [--samples 24] [--frames 16] [--workers 1,2]

For each encoder, the same random uint8 clips (frames x size from the table below) go
through (a) ``harfuse.encoders.extract.encode_clips`` with the registry's frozen encoder,
batched, and (b) a plain loop: one clip at a time through the same torchvision model with
the normalisation done in the loop, as feature-extraction scripts usually do. Prints
clips/s for both (median round) and the ratio (a) / (b) (target >= 1.0) as the median
over ``--rounds`` interleaved rounds with its min and max. Random weights: speed does not
depend on them, and nothing is downloaded.

``--compute null`` (the feed rate): for each ``WxH`` of ``--sizes``, a frame shard of
``--samples`` clips of ``--frames`` frames of that size, stored as JPEG (quality 95; the
encoder's ``input_size`` is the same size) goes through, in interleaved rounds: the
features stage's encode on the CPU (its feed and ``encode_clips`` with a frozen
``--encoder`` built once, ``--num-frames`` per clip, ``--batch-size``, torch on all
cores: the stage without building the encoder and writing the shard); today's
sequential read (every frame of a clip decoded by ``ShardReader.read``, then sampled and
resized, one thread); and the stage's feed alone
(``harfuse.stages.features.frame_feed``: the same code path, the encoder replaced by a
no-op) with each number of decode workers of ``--workers``, pinned when ``--device`` is
CUDA as in the stage. Prints clips/s and frames/s handed over (``num_frames`` per clip)
at the median round, the feed's rate per core and the ratio feed / compute, then the
same as a markdown table (see ``benchmarks/flow.py``).
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from flow import drain, feed_report, frame_shard, print_table, sizes_arg

from harfuse.config_schema import default
from harfuse.device import resolve_device
from harfuse.encoders import create_encoder
from harfuse.encoders.extract import clip, encode_clips, frozen_encoder
from harfuse.environment import cores as usable_cores
from harfuse.environment import describe
from harfuse.stages import features as features_stage
from harfuse.store.shards import ShardReader
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


def null_compute(args: argparse.Namespace) -> None:
    """``--compute null``: the features stage's feed rate against its CPU compute, per
    size."""
    cores = usable_cores()
    workers = [int(n) for n in args.workers.split(",")] if args.workers else sorted({1, cores})
    device = resolve_device(args.device)
    torch.set_num_threads(cores)
    print(describe())
    print(
        f"null compute: {args.samples} clips of {args.frames} frames per size, "
        f"{args.num_frames} frames per clip to {args.encoder} (frames/s below: clips x "
        f"{args.num_frames}, handed to the encoder); "
        f"{cores} cores; feed device {device.type}; {args.rounds} rounds"
    )
    handed = args.samples * args.num_frames
    rows: list[str] = []
    for height, width in sizes_arg(args.sizes):
        params = {
            "encoder": args.encoder,
            "weights": "none",
            "num_frames": args.num_frames,
            "input_size": [height, width],
            "batch_size": args.batch_size or default("features", "batch_size"),
            "seed": 0,
        }
        with tempfile.TemporaryDirectory() as tmp:
            shard = Path(tmp) / "frames.h5"
            kb = frame_shard(shard, args.samples, args.frames, height, width)

            def read(shard: Path = shard, size: tuple[int, int] = (height, width)) -> None:
                reader = ShardReader(shard)
                for sid in reader.sample_ids():
                    clip(reader.read(sid, "frames"), args.num_frames, size)
                reader.close()

            def fed(n: int, shard: Path = shard, params: dict = params) -> None:
                reader = ShardReader(shard)
                drain(features_stage.frame_feed(reader, params, device, n))
                reader.close()

            encoder = frozen_encoder(params, torch.device("cpu"))

            def compute(
                shard: Path = shard, params: dict = params, encoder: torch.nn.Module = encoder
            ) -> None:
                reader = ShardReader(shard)
                stream = features_stage.frame_feed(reader, params, torch.device("cpu"), cores)
                clips = (item.get() for item in stream)
                encode_clips(encoder, clips, params["batch_size"], torch.device("cpu"))
                reader.close()

            runs: dict[str, Callable[[], object]] = {
                "compute": compute,
                "read": read,
                **{f"feed {n}": functools.partial(fed, n) for n in workers},
            }
            runs["compute"]()  # warm-up: the encoder's first forward, page cache, OpenCV
            seconds = interleaved(runs, args.rounds)
        compute_clips = rate(args.samples, seconds["compute"])
        feed_report(
            f"features {args.encoder} {width}x{height}: {kb:.1f} kB per JPEG frame",
            seconds,
            handed,
            f"stage's encode, CPU compute ({cores} threads): {compute_clips:8.2f} clips/s,",
            workers,
            cores,
            rows,
            ("clips", args.samples),
        )
    print_table(rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--compute",
        choices=("encoders", "null"),
        default="encoders",
        help="encoders: harfuse vs a plain loop; null: the stage's feed rate vs its CPU compute",
    )
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument(
        "--batch-size", type=int, help="clips per batch (default 16; null: the config's, 4)"
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--encoders", default="resnet18,resnet50,r3d_18,r2plus1d_18")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions")
    null = parser.add_argument_group("--compute null")
    null.add_argument("--sizes", default="64x64,224x224", help="frame and input sizes WxH")
    null.add_argument("--samples", type=int, default=24, help="clips in the frame shard")
    null.add_argument("--frames", type=int, default=16, help="frames stored per clip")
    null.add_argument("--num-frames", type=int, default=8, help="frames per clip to the encoder")
    null.add_argument("--encoder", default="resnet18", help="the stage's encoder")
    null.add_argument("--workers", default="", help="decode workers to time (default 1,cores)")
    args = parser.parse_args(argv)
    if args.compute == "null":
        null_compute(args)
        return
    device = resolve_device(args.device)
    args.batch_size = args.batch_size or 16
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
