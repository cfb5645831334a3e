"""How closely the torch TV-L1 and Farneback reproduce cv2, next to cv2's own noise floor,
and what each TV-L1 mode costs.

    .venv/bin/python benchmarks/flow_parity.py [--seeds 5] [--size 128x96] [--device cpu]
        [--modes parity,fast] [--threads N]

For every synthetic pair of ``benchmarks/flow_cases.py``'s ``cases`` and texture
seed: cv2's flow with OpenCV's defaults; the torch port's flow in each ``--modes`` mode;
and cv2's flow on the same frames plus uniform noise below 1e-4 grey levels (fed as
float32, which cv2 scales by 255 like its uint8 path). The last is cv2's own sensitivity
to rounding: a port that is not bit-exact cannot be expected closer to cv2 than that.

TV-L1 modes: ``parity`` and ``fast`` as ``harfuse.flow.tvl1_torch`` runs them on the
device (``fast`` ends a warp early on the CPU only); ``fast-fixed`` is ``fast`` with
``check_every=0``, the fixed budget it runs on CUDA, timed here on the CPU (the same
flow, bit for bit). The modes run one after the other on each pair, in an
order that alternates from pair to pair, so that a load that comes and goes on the
machine weighs on every mode alike.

Prints one row per case and mode: the seconds the torch port took over all seeds, the
speed ratio parity / mode, the mean over seeds of the mean / p99 endpoint error (px) and
of the share of identical uint8 codes (bound 20) against cv2, how many pairs are
bit-equal to cv2, the noise floor (mean / p99 / codes), whether the mode is within the
floor (mean EPE at most the floor's and codes at least the floor's), and the interior
(16 px margin) error against the true flow of the translation cases.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from flow_cases import cases
from opencv_pin import NOISE_FLOOR, bit_exact_blocker

from harfuse.environment import describe
from harfuse.flow import compute_flow, quantize
from harfuse.flow.tvl1_torch import tvl1

#: true flow (px) of the translation cases
TRUTH = {"translation_small": (1.5, -0.75), "translation_large": (6.3, 4.1)}
#: TV-L1 mode name -> keyword arguments of ``tvl1``
TVL1_MODES = {
    "parity": {"mode": "parity"},
    "fast": {"mode": "fast"},
    "fast-fixed": {"mode": "fast", "check_every": 0},
}


def _cv2_tvl1(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.optflow.DualTVL1OpticalFlow_create().calc(first, second, None)


def compare(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float, float]:
    """Mean and p99 endpoint error (px) and the share of identical uint8 codes, of two
    ``(H, W, 2)`` flows."""
    epe = np.linalg.norm(ours - ref, axis=-1)
    same = (quantize(ours[None]) == quantize(ref[None])).mean()
    return float(epe.mean()), float(np.percentile(epe, 99)), float(same)


def interior_error(flow: np.ndarray, truth: tuple[float, float]) -> float:
    """Mean endpoint error (px) of an ``(H, W, 2)`` flow against a constant true flow,
    16 px from the borders."""
    inner = flow[16:-16, 16:-16]
    return float(np.linalg.norm(inner - truth, axis=-1).mean())


def torch_flow(frames: np.ndarray, method: str, mode: str, device: str) -> tuple[np.ndarray, float]:
    """The torch port's ``(H, W, 2)`` flow of one ``(2, H, W)`` pair and its seconds."""
    if method == "farneback":
        start = time.perf_counter()
        flow = compute_flow(frames, method, backend="torch", device=device)[0]
        return flow, time.perf_counter() - start
    prev, nxt = (torch.from_numpy(f[None]).to(device) for f in frames)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    flow = tvl1(prev, nxt, **TVL1_MODES[mode])[0].cpu().numpy()
    return flow, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--size", default="128x96", help="WxH")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--method", choices=("tvl1", "farneback"), default="tvl1")
    parser.add_argument(
        "--modes", default="parity,fast", help=f"TV-L1 modes, comma-separated: {list(TVL1_MODES)}"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split("x"))
    modes = args.modes.split(",") if args.method == "tvl1" else ["-"]
    unknown = set(modes) - set(TVL1_MODES) - {"-"}
    if unknown:
        parser.error(f"unknown TV-L1 modes {sorted(unknown)}; expected {list(TVL1_MODES)}")
    rng = np.random.default_rng(0)
    #: (case, mode) -> per pair (mean EPE, p99, codes, bit-equal, seconds[, truth error])
    rows: dict[tuple[str, str], list[tuple]] = {}
    #: case -> per pair (floor mean EPE, p99, codes[, cv2's truth error])
    floors: dict[str, list[tuple]] = {}
    pair = 0
    for seed in range(args.seeds):
        for name, frames in cases(seed, h, w).items():
            ref = compute_flow(frames, args.method, backend="cv2")[0]
            floor: tuple = ()
            if args.method == "tvl1":
                noisy = frames.astype(np.float32) / 255
                noisy[0] += rng.uniform(0, 1e-4, noisy[0].shape).astype(np.float32) / 255
                floor = compare(_cv2_tvl1(noisy[0], noisy[1]), ref)
            if name in TRUTH:
                floor += (interior_error(ref, TRUTH[name]),)
            floors.setdefault(name, []).append(floor)
            order = modes if pair % 2 == 0 else modes[::-1]
            pair += 1
            for mode in order:
                ours, seconds = torch_flow(frames, args.method, mode, args.device)
                row = (*compare(ours, ref), bool((ours == ref).all()), seconds)
                if name in TRUTH:
                    row += (interior_error(ours, TRUTH[name]),)
                rows.setdefault((name, mode), []).append(row)
    print(describe())
    print(
        f"{args.method} torch ({args.device}, {torch.get_num_threads()} threads) vs cv2 "
        f"{__import__('cv2').__version__}, {w}x{h}, {args.seeds} seeds, OpenCV defaults; "
        f"torch {torch.__version__}"
    )
    if args.method == "tvl1":  # the Farneback port is close (~1e-7 px), not bit-exact
        print(f"bit-exact expected (parity): {bit_exact_blocker() or 'yes'}")
    head = (
        f"{'case':20s} {'mode':10s} {'seconds':>8s} {'x parity':>8s} {'mean EPE':>9s} "
        f"{'p99 EPE':>9s} {'codes':>8s} {'bit-equal':>9s}"
    )
    if args.method == "tvl1":
        head += f" | floor: {'mean':>8s} {'p99':>8s} {'codes':>8s} | {'in floor':8s}"
    print(head + " | interior EPE to truth: torch / cv2")
    outside: list[str] = []
    for name, mode in ((name, mode) for name in floors for mode in modes):
        values = rows[name, mode]
        m = np.mean(np.array([v[:5] for v in values]), 0)
        seconds = sum(v[4] for v in values)
        base = rows.get((name, "parity"))
        ratio = f"{sum(v[4] for v in base) / seconds:8.2f}" if base else f"{'-':>8s}"
        equal = sum(v[3] for v in values)
        line = f"{name:20s} {mode:10s} {seconds:8.2f} {ratio} {m[0]:9.2e} {m[1]:9.2e} "
        line += f"{m[2] * 100:7.3f}% {equal:>5d}/{len(values):<3d}"
        if args.method == "tvl1":
            f = np.mean(np.array([v[:3] for v in floors[name]]), 0)
            within = m[0] <= f[0] and m[2] >= f[2]
            if not within:
                outside.append(f"{name} {mode}")
            yes = "yes" if within else "NO"
            line += f" |        {f[0]:8.2e} {f[1]:8.2e} {f[2] * 100:7.3f}% | {yes:8s}"
        if name in TRUTH:
            line += f" | {np.mean([v[5] for v in values]):.4f} / "
            line += f"{np.mean([v[-1] for v in floors[name]]):.4f}"
        print(line)
    for mode in modes:
        mine = [v for (_, m), values in rows.items() if m == mode for v in values]
        line = f"{mode}: {sum(v[4] for v in mine):.2f} s over {len(mine)} pairs"
        if mode != "parity" and "parity" in modes:
            parity = sum(v[4] for (_, m), values in rows.items() if m == "parity" for v in values)
            line += f", parity / {mode} = {parity / sum(v[4] for v in mine):.2f}"
        worst = max(v[0] for v in mine)
        line += f"; worst pair: mean EPE {worst:.2e} px, codes {min(v[2] for v in mine) * 100:.3f}%"
        print(line)
    if args.method == "tvl1":
        print(f"outside the floor: {', '.join(outside) or 'none'}")
    print(f"the tests' tolerance off the followed OpenCV: {NOISE_FLOOR}")


if __name__ == "__main__":
    main()
