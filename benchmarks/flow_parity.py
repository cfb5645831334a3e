"""How closely the torch TV-L1 and Farneback reproduce cv2, next to cv2's own noise floor.

    .venv/bin/python benchmarks/flow_parity.py [--seeds 5] [--size 128x96] [--device cpu]

For every synthetic pair of ``harfuse.flow.synthetic.cases`` and texture
seed: cv2's flow with OpenCV's defaults; the torch port's flow (parity mode); and cv2's
flow on the same frames plus uniform noise below 1e-4 grey levels (fed as float32, which
cv2 scales by 255 like its uint8 path). The last is cv2's own sensitivity to rounding: a
port that is not bit-exact cannot be expected closer to cv2 than that. Prints, per case,
the mean over seeds of the mean / p99 endpoint error (px) and of the share of identical
uint8 codes (bound 20), for torch vs cv2 and for the noise floor, how many pairs the port
gives bit for bit, and the interior (16 px margin) error against the true flow of the
translation cases.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from harfuse.environment import describe
from harfuse.flow import compute_flow, quantize
from harfuse.flow.opencv_version import NOISE_FLOOR, bit_exact_blocker
from harfuse.flow.synthetic import cases

#: true flow (px) of the translation cases
TRUTH = {"translation_small": (1.5, -0.75), "translation_large": (6.3, 4.1)}


def _cv2_tvl1(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.optflow.DualTVL1OpticalFlow_create().calc(first, second, None)


def compare(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """Mean and p99 endpoint error (px) and the share of identical uint8 codes."""
    epe = np.linalg.norm(ours - ref, axis=-1)
    same = (quantize(ours[None]) == quantize(ref[None])).mean()
    return float(epe.mean()), float(np.percentile(epe, 99)), float(same)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--size", default="128x96", help="WxH")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--method", choices=("tvl1", "farneback"), default="tvl1")
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(0)
    rows: dict[str, list[tuple]] = {}
    identical: dict[str, int] = {}
    for seed in range(args.seeds):
        for name, frames in cases(seed, h, w).items():
            ref = compute_flow(frames, args.method, backend="cv2")[0]
            ours = compute_flow(frames, args.method, backend="torch", device=args.device)[0]
            row = compare(ours, ref)
            identical[name] = identical.get(name, 0) + bool((ours == ref).all())
            if args.method == "tvl1":
                noisy = frames.astype(np.float32) / 255
                noisy[0] += rng.uniform(0, 1e-4, noisy[0].shape).astype(np.float32) / 255
                row += compare(_cv2_tvl1(noisy[0], noisy[1]), ref)
            if name in TRUTH:
                inner = (slice(16, -16), slice(16, -16))
                row += tuple(
                    float(np.linalg.norm(f[inner] - TRUTH[name], axis=-1).mean())
                    for f in (ours, ref)
                )
            rows.setdefault(name, []).append(row)
    print(describe())
    print(
        f"{args.method} torch ({args.device}) vs cv2 {__import__('cv2').__version__}, "
        f"{w}x{h}, {args.seeds} seeds, OpenCV defaults; torch {torch.__version__}"
    )
    if args.method == "tvl1":  # the Farneback port is close (~1e-7 px), not bit-exact
        print(f"bit-exact expected: {bit_exact_blocker() or 'yes'}")
    head = f"{'case':20s} {'mean EPE':>9s} {'p99 EPE':>9s} {'codes':>8s} {'bit-equal':>9s}"
    if args.method == "tvl1":
        head += f" | floor: {'mean':>8s} {'p99':>8s} {'codes':>8s}"
    print(head + " | interior EPE to truth: torch / cv2")
    for name, values in rows.items():
        m = np.mean(np.array([v[:6] if args.method == "tvl1" else v[:3] for v in values]), 0)
        line = f"{name:20s} {m[0]:9.2e} {m[1]:9.2e} {m[2] * 100:7.3f}%"
        line += f" {identical[name]:>5d}/{len(values):<3d}"
        if args.method == "tvl1":
            line += f" |        {m[3]:8.2e} {m[4]:8.2e} {m[5] * 100:7.3f}%"
        if name in TRUTH:
            k = 6 if args.method == "tvl1" else 3
            truth = np.mean([v[k : k + 2] for v in values], 0)
            line += f" | {truth[0]:.4f} / {truth[1]:.4f}"
        print(line)
    worst = [max(v[0] for v in values) for values in rows.values()]
    codes = [min(v[2] for v in values) for values in rows.values()]
    print(
        f"worst pair: mean EPE {max(worst):.2e} px, codes {min(codes) * 100:.3f}%; "
        f"the tests' tolerance off the followed OpenCV: {NOISE_FLOOR}"
    )


if __name__ == "__main__":
    main()
