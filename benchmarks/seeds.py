"""How much each variant's top-1 moves over training seeds: noise vs real differences.

    .venv/bin/python benchmarks/seeds.py [--seeds 0,1,2] [--configfile config.yaml]
                                         [--workdir results-seeds] [--cores 2]

Runs the workflow once per seed in ``--workdir`` (its own results, so the main
``results/`` stays as it is), with ``train.params.seed`` set to that seed and everything
else from ``--configfile``. Only the training jobs and the report rerun between seeds
(preprocessing and features do not depend on the seed). Prints, per variant and
experiment, top-1 for each seed, the mean and the spread (max - min), and writes them to
``{workdir}/seeds.csv``. A difference between two variants smaller than their spreads
is not evidence that one is better.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import yaml
from workflow_runs import REPO, run_workflow

from harfuse.environment import describe


def run_seed(config: dict, seed: int, workdir: Path, cores: str) -> pd.DataFrame:
    """The report's summary table after the workflow ran with training seed ``seed``."""
    config = {**config, "train": {**config["train"]}}
    config["train"]["params"] = {**config["train"]["params"], "seed": seed}
    report = run_workflow(config, workdir, cores)
    return pd.read_csv(report / "summary.csv").assign(seed=seed)


def spread_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (variant, split, experiment): top-1 per seed, mean and max - min."""
    wide = runs.pivot_table(
        index=["variant", "split", "experiment"], columns="seed", values="top1"
    ).rename(columns=lambda s: f"seed{s}")
    seeds = list(wide.columns)
    wide["mean"] = wide[seeds].mean(axis=1)
    wide["spread"] = wide[seeds].max(axis=1) - wide[seeds].min(axis=1)
    return wide.reset_index().sort_values(["split", "experiment", "mean"], ascending=[1, 1, 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--configfile", default=str(REPO / "config.yaml"))
    parser.add_argument("--workdir", default="results-seeds")
    parser.add_argument("--cores", default="all")
    args = parser.parse_args()
    workdir = Path(args.workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(Path(args.configfile).read_text())
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = pd.concat([run_seed(config, s, workdir, args.cores) for s in seeds])
    table = spread_table(runs)
    table.to_csv(workdir / "seeds.csv", index=False, float_format="%.4f")
    print(describe())
    print(f"top-1 over training seeds {seeds} ({args.configfile}):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))


if __name__ == "__main__":
    main()
