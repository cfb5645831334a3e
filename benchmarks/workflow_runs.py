"""Running the whole workflow from a benchmark script, in a working directory of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def run_workflow(
    config: dict,
    workdir: Path,
    cores: str = "all",
    extra: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Path:
    """Run the Snakefile on ``config`` in ``workdir`` (its own ``results/``, ``resources/``
    and ``.snakemake/``); returns the report folder of the config's dataset."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    cmd = [
        str(Path(sys.executable).parent / "snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(path),
        "--replace-workflow-config",
        "--cores",
        cores,
        "--quiet",
        *extra,
    ]
    subprocess.run(cmd, check=True, env={**os.environ, **(env or {})})
    return workdir / "results" / config["dataset"]["name"] / "report"
