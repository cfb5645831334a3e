"""What moves the demo's results: a second run, fewer cores, more torch threads, another
CPU instruction set.

    .venv/bin/python benchmarks/determinism.py [--configfile config.yaml]
                                               [--workdir results-determinism]

Runs the workflow on ``--configfile`` in ``{workdir}/base`` with ``--cores 2``, then:

- ``again``: the same from scratch in another folder (same machine, seed, threads);
- ``cores1``: from scratch with ``--cores 1`` (the features jobs get 1 thread, not 2);
- ``train_threads2``: a copy of ``base`` with the training jobs rerun on 2 torch threads
  (``train.params.threads: 2``; the default is 1);
- ``isa_default``: a copy of ``base`` with features and training rerun under
  ``ATEN_CPU_CAPABILITY=default`` and ``ONEDNN_MAX_CPU_ISA=SSE41`` (torch's kernels without
  AVX2 / AVX-512: what an older or other CPU would run).

For each, against ``base``: whether ``summary.csv`` is byte-identical, how many runs'
top-1 moved and by how much at most, the largest change of a predicted probability, and
the largest change of a cached feature.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import yaml
from workflow_runs import REPO, run_workflow

from harfuse.environment import describe


def feature_arrays(results: Path) -> dict[str, np.ndarray]:
    """Every ``pooled`` feature array under ``results/*/features``, by relative path."""
    arrays = {}
    for path in sorted(results.glob("*/features/*/shard-*.h5")):
        with h5py.File(path, "r") as f:
            arrays[str(path.relative_to(results))] = f["pooled"][()]
    return arrays


def predictions(results: Path) -> dict[str, np.ndarray]:
    """Every run's predicted probabilities, by run folder."""
    probs = {}
    for path in sorted(results.glob("*/runs/*/*/*/predictions.parquet")):
        df = pd.read_parquet(path)
        probs[str(path.parent.relative_to(results))] = df.filter(like="prob_").to_numpy()
    return probs


def largest_change(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """max |a - b| over the arrays both have (same keys required)."""
    if a.keys() != b.keys():
        raise ValueError(f"different outputs: {sorted(a.keys() ^ b.keys())[:5]}")
    return max((float(np.abs(a[k] - b[k]).max()) for k in a), default=0.0)


def compare(base: Path, other: Path, dataset: str) -> dict:
    """One row of the result table: ``other``'s workdir against ``base``'s."""
    report = Path("results") / dataset / "report" / "summary.csv"
    left, right = (pd.read_csv(w / report) for w in (base, other))
    moved = (left["top1"] - right["top1"]).abs()
    return {
        "summary.csv identical": (base / report).read_bytes() == (other / report).read_bytes(),
        "runs whose top-1 moved": f"{int((moved > 0).sum())}/{len(moved)}",
        "max |Δ top-1|": float(moved.max()),
        "max |Δ prob|": largest_change(
            predictions(base / "results"), predictions(other / "results")
        ),
        "max |Δ feature|": largest_change(
            feature_arrays(base / "results"), feature_arrays(other / "results")
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--configfile", default=str(REPO / "config.yaml"))
    parser.add_argument("--workdir", default="results-determinism")
    args = parser.parse_args()
    root = Path(args.workdir).resolve()
    config = yaml.safe_load(Path(args.configfile).read_text())
    dataset = config["dataset"]["name"]
    for name in ("base", "again", "cores1"):  # from scratch, also on a second call
        shutil.rmtree(root / name, ignore_errors=True)
    base = root / "base"
    run_workflow(config, base, "2")
    rows = {}
    run_workflow(config, root / "again", "2")
    rows["again"] = compare(base, root / "again", dataset)
    run_workflow(config, root / "cores1", "1")
    rows["cores1"] = compare(base, root / "cores1", dataset)
    threads2 = {**config, "train": {**config["train"]}}
    threads2["train"]["params"] = {**config["train"]["params"], "threads": 2}
    for name, changed, extra, env in (
        ("train_threads2", threads2, (), {}),
        (
            "isa_default",
            config,
            ("-R", "extract_features", "train_variant"),
            {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
        ),
    ):
        shutil.rmtree(root / name, ignore_errors=True)
        shutil.copytree(base, root / name, symlinks=True)
        run_workflow(changed, root / name, "2", extra, env)
        rows[name] = compare(base, root / name, dataset)
    print(describe())
    print(f"against {base} ({args.configfile}, --cores 2):")
    table = pd.DataFrame(rows).T
    print(table.to_string(float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
