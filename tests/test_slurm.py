"""The workflow through profiles/slurm on a real SLURM (CI starts a single-node cluster with
profiles/slurm/single-node-cluster.sh), compared with a local run."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harfuse.store.manifest import read_manifest
from harfuse.store.shards import read_feature_shard

from .helpers import REPO, SNAKEMAKE, snakemake, write_config

SETUP = "profiles/slurm/single-node-cluster.sh"


def slurm_unavailable() -> str | None:
    """Why the test cannot run here, or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return "snakemake-executor-plugin-slurm is not installed (pip install -e '.[dev]')"
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return f"SLURM is not installed: run {SETUP} as root (.ci/run does)"
    state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    if state.returncode != 0 or not any(
        s.startswith(("idle", "mixed", "allocated")) for s in state.stdout.split()
    ):
        return f"no SLURM node is up ({state.stdout.strip() or state.stderr.strip()}): run {SETUP}"
    return None


def slurm_jobs() -> dict[int, str]:
    """Job id -> comment (``rule_{name}_wildcards_...``) of every job SLURM still lists."""
    out = subprocess.run(
        ["squeue", "--states=all", "-h", "-o", "%i %k"], capture_output=True, text=True, check=True
    )
    return {int(i): c for i, c in (line.split(maxsplit=1) for line in out.stdout.splitlines())}


#: the test whose SLURM run tests/conftest.py starts before the session's first test
TEST = "test_workflow_through_slurm_equals_a_local_run"


@dataclass
class ClusterRun:
    """A workflow run through profiles/slurm in ``workdir``, started in the background
    (``proc``; None with the reason in ``skipped``), after SLURM's job ``before``."""

    workdir: Path
    proc: subprocess.Popen | None
    before: int
    skipped: str | None = None

    def finish(self) -> tuple[int, str]:
        """Its exit status and output, once it ended."""
        assert self.proc is not None
        code = self.proc.wait(timeout=1200)
        return code, (self.workdir / "snakemake.out").read_text()

    def stop(self) -> None:
        """Kill it and the processes it started here, if it still runs."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def start_cluster_run(cfg: dict, workdir: Path) -> ClusterRun:
    """``cfg`` through profiles/slurm in ``workdir``, in the background; nothing started
    when SLURM cannot run here (:func:`slurm_unavailable`)."""
    reason = slurm_unavailable()
    if reason:
        return ClusterRun(workdir, None, 0, reason)
    write_config(workdir, cfg)
    before = max(slurm_jobs(), default=0)
    cmd = [
        "timeout", "-s", "KILL", "1200",  # the plugin can wait forever on a broken cluster
        SNAKEMAKE,
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"),
        "--profile", str(REPO / "profiles/slurm"),
        "--slurm-no-account",
        "--slurm-status-command", "squeue",
        "--slurm-init-seconds-before-status-checks", "2",
        # the GPU path of the profile: --gpus=1 on the node's (fake) GPU, run on the CPU
        "--set-resources", "train_variant:gpu=1",
    ]  # fmt: skip
    with open(workdir / "snakemake.out", "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
    return ClusterRun(workdir, proc, before)


@pytest.mark.slow
def test_workflow_through_slurm_equals_a_local_run(request, slurm_run):
    if slurm_run.skipped:
        pytest.skip(slurm_run.skipped)
    local = request.getfixturevalue("stills_run")  # the same config, run here
    code, output = slurm_run.finish()
    assert code == 0, output[-4000:]
    cluster, before = slurm_run.workdir, slurm_run.before
    cfg = yaml.safe_load((cluster / "config.yaml").read_text())

    jobs = [c for i, c in slurm_jobs().items() if i > before]
    rules = {c.split("_wildcards_")[0].removeprefix("rule_") for c in jobs}
    assert {"build_manifest", "extract_frames", "extract_features", "train_variant"} <= rules
    name = cfg["dataset"]["name"]
    res_local, res_cluster = local / f"results/{name}", cluster / f"results/{name}"
    pd.testing.assert_frame_equal(
        read_manifest(res_cluster / "manifest.parquet"),
        read_manifest(res_local / "manifest.parquet"),
    )
    for shard in sorted((res_local / "features/still_image").glob("shard-*.h5")):
        a, b = (
            read_feature_shard(shard),
            read_feature_shard(res_cluster / shard.relative_to(res_local)),
        )
        assert a["sample_id"] == b["sample_id"]
        assert (a["temporal"] == b["temporal"]).all()
    for table in ("summary.csv", "aggregate.csv"):
        assert (res_cluster / "report" / table).read_text() == (
            res_local / "report" / table
        ).read_text()
    assert "Nothing to be done" in snakemake(cluster, "--dry-run")
