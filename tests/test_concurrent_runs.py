"""Two `snakemake` runs at once on one results folder: one asks for the frames shards, the
other for the audio shards of the same dataset; both need its manifest (the checkpoint).

What happens (Snakemake 9.27; 13 trials, 12 of them started in the
same instant, and either run was the refused one):

- **Manifest still to make**: the run that locks the folder first makes the manifest and
  its shards; the other stops at once, exit status 1, having written nothing: with
  Snakemake's ``LockException`` ("Directory cannot be locked") when it reaches the lock
  while the first still parses or runs no job yet, with its ``IncompleteFilesException``
  naming the manifest's files when it builds its job graph after the first run's manifest
  job started (seen on a loaded 2-core machine, the suite's other runs beside it). A run
  locks the files it will write and read (``.snakemake/locks``), and both runs would
  write the manifest. Nothing
  is left half-written (the outputs are renamed into place when complete,
  harfuse.store.atomic, so no ``.*.tmp`` remains), the lock goes with the first run, and
  running the refused one again then makes its shards.
- **Manifest already made**: the runs write disjoint files and only read the manifest, so
  Snakemake lets both run, side by side; both finish, and every file equals a run alone.

Either way every output is written by exactly one job. By hand, every rule's outputs sit
in a folder (or file name) of their own under ``results/{dataset}/``: ``frames/``,
``audio/``, ``pose/``, ``flow-{method}/``, ``features/{set}/``, ``{modality}/`` with
``modality`` constrained to the per-file modalities (imu, skeleton, depth), ``runs/``,
``report/``, and the manifest's 3 files; tests/test_slurm_groups.py checks on a dry run
that no output comes from two jobs.

Snakemake's lock is a check, then a write of its lock files: two runs that reach it within
the same instant could both pass. The second run here starts 1 s after the first, while
the first still parses the workflow and builds its job graph (about 3 s with its model
checks remembered, harfuse.check_memo; 5-8 s without), so that the refusal, not that
instant, is what the test sees."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import h5py
import pandas as pd
import pytest

from harfuse.datasets import adapter
from harfuse.store.manifest import read_manifest

from .helpers import snakemake, snakemake_command, tiny_config, write_config

pytestmark = pytest.mark.slow

NAME = "ucf51"
#: UCF-51's fixture has 16 clips with sound: 2 shards of 8
SHARDS = 2
STAGES = ("frames", "audio")


def targets(stage: str) -> list[str]:
    return [f"results/{NAME}/{stage}/shard-{k}.h5" for k in range(SHARDS)]


def start(workdir: Path, stage: str) -> subprocess.Popen:
    """Snakemake on one core making ``stage``'s shards; its output goes to
    ``workdir/{stage}.out``."""
    cmd = snakemake_command(workdir, *targets(stage), cores=1)
    with open(workdir / f"{stage}.out", "w") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)


def race(workdir: Path, delay: float) -> dict[str, tuple[int, str]]:
    """Start the frames run, then the audio run ``delay`` s later; ``{stage: (exit
    status, output)}``."""
    procs = {"frames": start(workdir, "frames")}
    time.sleep(delay)
    procs["audio"] = start(workdir, "audio")
    codes = {stage: proc.wait(timeout=600) for stage, proc in procs.items()}
    return {stage: (codes[stage], (workdir / f"{stage}.out").read_text()) for stage in procs}


def job_times(output: str) -> tuple[float, float]:
    """When a run's first job started and its last ended (its ``[date]`` lines, to the
    second)."""
    stamps = [
        time.mktime(time.strptime(" ".join(m[1].split()), "%a %b %d %H:%M:%S %Y"))
        for m in re.finditer(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]$", output, re.M)
    ]
    return min(stamps), max(stamps)


def results(workdir: Path) -> dict[str, bytes]:
    """Every file under ``results/``, by relative path; each HDF5 shard opened with h5py
    and the manifest read with pandas on the way (a truncated file raises)."""
    files = {}
    for path in sorted((workdir / "results").rglob("*")):
        if path.is_file():
            if path.suffix == ".h5":
                with h5py.File(path, "r") as shard:
                    assert shard.attrs["stage"] and len(shard) > 0, path
            elif path.name == "manifest.parquet":
                assert len(read_manifest(path)) == 16
            elif path.suffix == ".parquet":
                pd.read_parquet(path)
            files[str(path.relative_to(workdir))] = path.read_bytes()
    return files


def assert_nothing_half_written(workdir: Path) -> None:
    assert not list((workdir / "results").rglob("*.tmp"))  # harfuse.store.atomic's names
    assert not list((workdir / ".snakemake/incomplete").rglob("*"))  # Snakemake's marks
    assert not (workdir / ".snakemake/locks").exists()  # the lock went with its run


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    root = adapter("ucf51").write_fixture(tmp_path_factory.mktemp("ucf51") / "data")
    cfg = tiny_config("ucf51", root)
    cfg["dataset"]["samples_per_shard"] = 8
    return cfg


@pytest.fixture(scope="module")
def alone(config, tmp_path_factory) -> dict[str, bytes]:
    """Both stages' shards made by one run, alone."""
    workdir = tmp_path_factory.mktemp("alone")
    write_config(workdir, config)
    snakemake(workdir, *targets("frames"), *targets("audio"))
    files = results(workdir)
    assert {f"results/{NAME}/{s}/shard-{k}.h5" for s in STAGES for k in range(SHARDS)} <= set(files)
    return files


def test_a_second_run_needing_the_same_manifest_is_refused(config, alone, tmp_path):
    write_config(tmp_path, config)
    ran = race(tmp_path, delay=1.0)

    refused = [stage for stage, (code, _) in ran.items() if code != 0]
    assert len(refused) == 1, {stage: out[-3000:] for stage, (_, out) in ran.items()}
    (loser,) = refused
    code, out = ran[loser]
    assert code == 1
    locked = "LockException" in out and "Directory cannot be locked" in out
    in_progress = "IncompleteFilesException" in out and f"results/{NAME}/manifest.parquet" in out
    assert locked or in_progress, out[-3000:]
    assert "Finished jobid" not in out  # it ran no job
    assert not (tmp_path / f"results/{NAME}/{loser}").exists()
    assert_nothing_half_written(tmp_path)
    # the winner's files, manifest included, are those of a run alone
    made = results(tmp_path)
    assert made == {f: b for f, b in alone.items() if f"/{loser}/" not in f}

    # the refused run, started again, finds the manifest and makes its shards
    snakemake(tmp_path, *targets(loser))
    assert_nothing_half_written(tmp_path)
    assert results(tmp_path) == alone


def test_runs_writing_different_files_both_finish(config, alone, tmp_path):
    write_config(tmp_path, config)
    snakemake(tmp_path, f"results/{NAME}/manifest.parquet")
    ran = race(tmp_path, delay=0.0)

    for code, out in ran.values():
        assert code == 0, out[-3000:]
        assert "Directory cannot be locked" not in out
    # they ran at the same time, not one after the other
    (a0, a1), (b0, b1) = (job_times(out) for _, out in ran.values())
    assert a0 <= b1 and b0 <= a1
    assert_nothing_half_written(tmp_path)
    assert results(tmp_path) == alone
