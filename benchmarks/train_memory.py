"""Peak memory of one train job as the dataset grows, and the streaming loader's speed.

    .venv/bin/python benchmarks/train_memory.py [--sizes 1000,10000,100000] [--rounds 3]
        [--per-shard 256] [--steps 1] [--skeleton-frames 64] [--skeleton-used 1000]
        [--cache-mb 0,512]

Synthetic shards written with the project's own writers, in a temporary folder deleted
after each size:

- ``features``: pooled ResNet-50 features, ``(steps, 2048)`` float32 per sample (one
  step: what a clip-level or averaged frame encoder caches), in feature shards of
  ``--per-shard`` samples (:meth:`ShardWriter.write_stacked`, as the features stage);
  variant ``{model: single, modalities: [rgb]}`` (``feature_sequence``). The split trains
  on 80 % of the samples (of which ``val_fraction`` 0.2 is held out) and tests the rest:
  one whole epoch at every size.
- ``skeleton``: Kinect v2 joints ``(frames, 1, 25, 3)`` float16 with ``detected`` per
  sample as the skeleton stage stores them (:func:`stored_skeleton`,
  :func:`write_sample_shard`), 64 samples per shard; variant ``{model: single,
  modalities: [skeleton]}`` (``skeleton_gcn``, ``skeleton_length`` 32). The graph
  convolutions are too slow for an epoch over 100k samples on a CPU, so the split uses a
  fixed ``--skeleton-used`` samples at every size (80 % train, 20 % test), spread evenly
  over the whole dataset (every shard is read once the dataset has fewer shards than
  that); the rest are ``unused``. The source still indexes every sample.

Each job is :func:`harfuse.stages.train.run` (what the ``train_variant`` rule's script
calls) on the CPU with ``train.params`` threads 1, workers 0 (the CPU default), batch
size 64, one epoch, in a fresh process that reports its peak RSS (``VmHWM``: the most
resident memory the process held, shared libraries' pages included), once for each
``--cache-mb`` (``train.params.cache_mb``: the model inputs a job keeps once made; 0 =
none, the streaming floor). A job holds about 0.8 GB before it reads any data (torch,
the model); what grows with the dataset besides the sources is the manifest (pandas),
the sample lists (about 1 KB a sample) and the kept inputs, up to the budget.

Speed: at the first size, each kind trains :data:`SPEED_EPOCHS` epochs with the
streaming sources (the package's, with the last ``--cache-mb``) and with the same
sources read whole into a dict before training (:class:`Preloaded`: the in-memory loader
the package had for features; for skeletons it holds the model inputs, normalisation
done), in interleaved rounds
(:mod:`harfuse.timing`): seconds per training sample of an epoch (the median epoch of
the job, the first included) and the ratio streaming / in-memory, median over rounds.
``loader-only`` is the same for one pass over the training set through the training
DataLoader without a model: what reading costs, which the model's step hides.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harfuse.environment import describe
from harfuse.timing import Ratio, interleaved

FEATURE_DIM = 2048  # ResNet-50's pooled features
CLASSES = 10
SPECS = {
    "features": ("rgb", {"model": "single", "modalities": ["rgb"]}),
    "skeleton": ("skeleton", {"model": "single", "modalities": ["skeleton"]}),
}
#: skeleton shards written by the stage's writer; the others are copies (write_skeletons)
TEMPLATES = 16
#: epochs of each job of the speed comparison (the graph convolutions are slow on a CPU)
SPEED_EPOCHS = {"features": 3, "skeleton": 2}
TRAIN = {"batch_size": 64, "val_fraction": 0.2, "threads": 1, "workers": 0, "seed": 0}
INPUTS = {"skeleton_length": 32}


def write_manifest_for(
    out: Path, n: int, per_shard: int, used: int | None, seed: int
) -> pd.DataFrame:
    """``manifest.parquet`` and ``classes.json`` of ``n`` synthetic samples in ``out``:
    random labels, split ``split``: ``used`` samples spread evenly over all (every one when
    None), 80 % of them train and the rest test, the others unused."""
    from harfuse.store.manifest import write_manifest

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    split = np.full(n, "unused", dtype=object)
    picked = np.arange(n) if used is None or used >= n else np.linspace(0, n - 1, used)
    picked = picked.astype(np.int64)
    split[picked] = np.where(rng.random(len(picked)) < 0.8, "train", "test")
    df = pd.DataFrame(
        {
            "sample_id": [f"s{i:06d}" for i in range(n)],
            "label": [f"c{c}" for c in labels],
            "label_idx": labels,
            "subject": np.arange(n) % 40,
            "shard": np.arange(n) // per_shard,
            "split": split,
        }
    )
    write_manifest(df, out / "manifest.parquet", ["split"])
    (out / "classes.json").write_text(json.dumps([f"c{c}" for c in range(CLASSES)]))
    return df


def write_features(out: Path, ids: list[str], per_shard: int, steps: int, seed: int) -> list[str]:
    """Feature shards of ``(steps, 2048)`` float32 normal features per sample, as the
    features stage writes them; their paths."""
    from harfuse.store.shards import FRAMES_PARAMS, ShardWriter, encode_params

    rng = np.random.default_rng(seed)
    paths = []
    for k, start in enumerate(range(0, len(ids), per_shard)):
        chunk = ids[start : start + per_shard]
        temporal = rng.standard_normal((len(chunk), steps, FEATURE_DIM), dtype=np.float32)
        path = out / f"features-{k}.h5"
        with ShardWriter(path, "features", {"encoder": "resnet50"}) as writer:
            writer.write_stacked("sample_id", np.array(chunk, dtype=object))
            writer.write_stacked("pooled", temporal.mean(axis=1))
            writer.write_stacked("temporal", temporal)
            writer.set_attr(FRAMES_PARAMS, encode_params({"fps": 8.0, "size": 224}))
        paths.append(str(path))
    return paths


def write_skeletons(out: Path, ids: list[str], per_shard: int, frames: int, seed: int) -> list[str]:
    """Skeleton shards of ``(frames, 1, 25, 3)`` Kinect v2 joints per sample (a body
    trembling in place), as the skeleton stage writes them; their paths.

    The first :data:`TEMPLATES` shards are written by the stage's writer
    (:func:`write_sample_shard`, about 3 ms a sample here); each later one is a copy of
    one of them with its sample groups renamed (HDF5 link moves), which takes seconds for
    100k samples instead of minutes. The copies read as the originals do."""
    import h5py

    from harfuse.preprocess.skeleton import stored_skeleton
    from harfuse.skeleton.track import SkeletonTrack
    from harfuse.stages.shard_job import write_sample_shard

    rng = np.random.default_rng(seed)
    base = rng.uniform(-0.5, 0.5, (1, 1, 25, 3)).astype(np.float32)
    detected = np.ones((frames, 1), dtype=bool)

    def compute(sid: str) -> dict[str, Any]:
        joints = base + 0.05 * rng.standard_normal((frames, 1, 25, 3), dtype=np.float32)
        track = SkeletonTrack(joints, detected, 30.0, "kinect_v2_25", ("x", "y", "z"))
        return stored_skeleton(track, sid)

    paths: list[Path] = []
    for k, start in enumerate(range(0, len(ids), per_shard)):
        path, chunk = out / f"skeleton-{k}.h5", ids[start : start + per_shard]
        if k < TEMPLATES or len(chunk) < per_shard:
            write_sample_shard(path, "skeleton", {}, chunk, compute)
        else:
            shutil.copyfile(paths[k % TEMPLATES], path)
            with h5py.File(path, "r+") as f:
                for old, new in zip(sorted(f.keys()), chunk, strict=True):
                    f.move(old, new)
        paths.append(path)
    return [str(p) for p in paths]


def prepare(kind: str, out: Path, n: int, args: argparse.Namespace) -> float:
    """Write ``kind``'s manifest and shards of ``n`` samples into ``out`` (``shards.json``
    lists them); the seconds it took."""
    start = time.perf_counter()
    out.mkdir(parents=True)
    if kind == "features":
        df = write_manifest_for(out, n, args.per_shard, None, 0)
        paths = write_features(out, list(df["sample_id"]), args.per_shard, args.steps, 1)
    else:
        df = write_manifest_for(out, n, 64, args.skeleton_used, 0)
        paths = write_skeletons(out, list(df["sample_id"]), 64, args.skeleton_frames, 1)
    (out / "shards.json").write_text(json.dumps({SPECS[kind][0]: paths}))
    return time.perf_counter() - start


class Preloaded:
    """A source read whole into a dict before training: the in-memory loader."""

    def __init__(self, source: Callable[[str], np.ndarray], sample_ids: list[str]):
        self._rows = {s: source(s) for s in sample_ids if s in source}  # type: ignore[operator]

    def __contains__(self, sample_id: str) -> bool:
        return sample_id in self._rows

    def __call__(self, sample_id: str) -> np.ndarray:
        return self._rows[sample_id]


def peak_rss_mb() -> float:
    """This process's peak resident memory (``VmHWM``), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def patch_for(loader: str, manifest: pd.DataFrame) -> list[float]:
    """Time each training epoch (the list it returns fills up) and, for ``memory``,
    preload every source of the job."""
    import harfuse.stages.train as stage
    import harfuse.train.loop as loop

    seconds: list[float] = []
    epoch = loop._train_epoch

    def timed(*args: Any, **kwargs: Any) -> tuple[float, int]:
        start = time.perf_counter()
        out = epoch(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
        return out

    loop._train_epoch = timed
    if loader == "memory":
        build = stage.build_sources
        ids = list(manifest["sample_id"])
        stage.build_sources = lambda *a, **k: {
            m: Preloaded(s, ids) for m, s in build(*a, **k).items()
        }
    return seconds


def loader_pass(data: Any) -> float:
    """Seconds of one shuffled pass over ``data`` through the training DataLoader."""
    import torch

    from harfuse.data.clips import clip_loader

    start = time.perf_counter()
    for _ in clip_loader(data, TRAIN["batch_size"], torch.device("cpu"), True, 0, 0):
        pass
    return time.perf_counter() - start


def job(data: Path, kind: str, loader: str, epochs: int, cache_mb: int) -> dict[str, Any]:
    """One train job on ``data`` (in this process): peak RSS, epoch seconds, sizes."""
    from harfuse.stages import train
    from harfuse.store.manifest import read_manifest

    manifest = read_manifest(data / "manifest.parquet")
    seconds = patch_for(loader, manifest)
    spec = SPECS[kind][1]
    shards = json.loads((data / "shards.json").read_text())
    params = {**TRAIN, "epochs": epochs, "cache_mb": cache_mb}
    out = Path(tempfile.mkdtemp(dir=data))
    train.run(
        data / "manifest.parquet", data / "classes.json", shards, kind, spec, "split",
        {"name": "full"}, params, INPUTS, "cpu", out,
    )  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    report = {"peak_mb": peak_rss_mb(), "epoch_s": seconds, "n_train": metrics["n_train"]}
    if epochs > 1:  # the speed runs: a pass through the loader alone as well
        sources = train.build_sources(shards, INPUTS)
        rows = manifest[manifest["split"] == "train"]
        from harfuse.data.dataset import MultiModalDataset

        report["pass_s"] = loader_pass(
            MultiModalDataset(rows["sample_id"], rows["label_idx"], sources)
        )
        report["pass_n"] = len(rows)
    return report


def run_job(data: Path, kind: str, loader: str, epochs: int, cache_mb: int) -> dict[str, Any]:
    """:func:`job` in a fresh Python process."""
    cmd = [sys.executable, __file__, "--job", str(data), "--kind", kind]
    cmd += ["--loader", loader, "--epochs", str(epochs), "--cache-mb", str(cache_mb)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_table(
    kind: str, sizes: list[int], tmp: Path, args: argparse.Namespace, cache_mb: int
) -> None:
    """Peak RSS of one streaming train job per size, printed as a table."""
    print(f"\n{kind}: peak RSS of one train job (streaming sources, 1 epoch, cache_mb {cache_mb})")
    print("| samples | trained | shards | written s | job s | peak RSS MB | ratio to first |")
    print("|---|---|---|---|---|---|---|")
    first = None
    for n in sizes:
        data = tmp / f"{kind}-{n}"
        written = prepare(kind, data, n, args)
        start = time.perf_counter()
        report = run_job(data, kind, "stream", 1, cache_mb)
        took = time.perf_counter() - start
        shards = len(json.loads((data / "shards.json").read_text())[SPECS[kind][0]])
        shutil.rmtree(data)
        first = first or report["peak_mb"]
        print(
            f"| {n} | {report['n_train']} | {shards} | {written:.0f} | {took:.0f} | "
            f"{report['peak_mb']:.0f} | {report['peak_mb'] / first:.2f} |"
        )


def speed_table(kind: str, n: int, tmp: Path, args: argparse.Namespace, cache_mb: int) -> None:
    """Epoch time per training sample, streaming vs preloaded, interleaved rounds."""
    data = tmp / f"{kind}-{n}-speed"
    prepare(kind, data, n, args)
    reports: dict[str, list[dict[str, Any]]] = {"stream": [], "memory": []}
    epochs = SPEED_EPOCHS[kind]
    interleaved(
        {name: (lambda name=name: reports[name].append(run_job(data, kind, name, epochs, cache_mb)))
         for name in reports},
        args.rounds,
    )  # fmt: skip
    shutil.rmtree(data)
    per = {
        name: [statistics.median(r["epoch_s"]) / r["n_train"] for r in runs]
        for name, runs in reports.items()
    }
    passes = {name: [r["pass_s"] / r["pass_n"] for r in runs] for name, runs in reports.items()}
    print(
        f"\n{kind}: {n} samples, {epochs} epochs per job, {args.rounds} interleaved rounds, "
        f"streaming with cache_mb {cache_mb}"
    )
    print("| loader | epoch ms/sample | loader-only pass ms/sample | peak RSS MB |")
    print("|---|---|---|---|")
    for name in reports:
        rss = statistics.median(r["peak_mb"] for r in reports[name])
        print(
            f"| {name} | {1000 * statistics.median(per[name]):.3f} | "
            f"{1000 * statistics.median(passes[name]):.4f} | {rss:.0f} |"
        )
    print(f"epoch time streaming / in-memory: {Ratio.of(per['stream'], per['memory'])}")
    print(f"loader-only streaming / in-memory: {Ratio.of(passes['stream'], passes['memory'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--kinds", default="features,skeleton")
    parser.add_argument("--rounds", type=int, default=3, help="speed rounds; 0 = none")
    parser.add_argument("--per-shard", type=int, default=256, help="feature shards")
    parser.add_argument("--steps", type=int, default=1, help="feature steps T per sample")
    parser.add_argument("--skeleton-frames", type=int, default=64)
    parser.add_argument("--skeleton-used", type=int, default=1000)
    parser.add_argument("--cache-mb", default="0,512", help="train.params.cache_mb values")
    parser.add_argument("--tmp", default=None, help="folder for the shards (default: /tmp)")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--kind", help=argparse.SUPPRESS)
    parser.add_argument("--loader", help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        print(
            json.dumps(job(Path(args.job), args.kind, args.loader, args.epochs, int(args.cache_mb)))
        )
        return
    print(describe())
    sizes = [int(s) for s in args.sizes.split(",")]
    caches = [int(c) for c in args.cache_mb.split(",")]
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        for kind in args.kinds.split(","):
            for cache_mb in caches:
                memory_table(kind, sizes, Path(tmp), args, cache_mb)
            if args.rounds:
                speed_table(kind, sizes[0], Path(tmp), args, caches[-1])
    print(f"\n(pid {os.getpid()}; shards deleted)")


if __name__ == "__main__":
    main()
