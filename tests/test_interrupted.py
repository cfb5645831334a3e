"""A stage killed mid-write leaves no complete-looking file; the rerun equals a clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from harfuse.store.atomic import HOST, atomic_path
from harfuse.store.shards import ShardReader


def run_frames(manifest, out) -> subprocess.Popen:
    code = (
        "import sys\nfrom harfuse.stages import frames\n"
        f"frames.run({str(manifest)!r}, 0, {str(out)!r}, {{'fps': 15.0, 'size': 48}}, 'skip')\n"
    )
    return subprocess.Popen([sys.executable, "-c", code])


def test_killed_frames_job_reruns_to_identical_output(demo_root, tmp_path):
    import pandas as pd

    from harfuse.datasets import scan_dataset
    from harfuse.store.manifest import assign_shards, write_manifest

    # 10 rows per demo video, so that the job runs long enough to be killed mid-way
    found = scan_dataset(demo_root, "demo").samples
    rows = pd.concat([found.assign(sample_id=found["sample_id"] + f"_r{i}") for i in range(10)])
    m = tmp_path / "manifest.parquet"
    write_manifest(assign_shards(rows, 1000), m, ["cross_subject"])
    killed = tmp_path / "killed" / "shard-0.h5"
    proc = run_frames(m, killed)
    deadline = time.time() + 60
    while not list(killed.parent.glob(".shard-0.h5.*.tmp")) and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the job ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not killed.exists()  # nothing under the final name
    assert list(killed.parent.glob(".shard-0.h5.*.tmp"))  # the partial file is a temp

    assert run_frames(m, killed).wait() == 0  # the rerun
    clean = tmp_path / "clean" / "shard-0.h5"
    assert run_frames(m, clean).wait() == 0
    assert not list(killed.parent.glob("*.tmp"))  # the killed writer's leftovers are gone
    a, b = ShardReader(killed), ShardReader(clean)
    assert a.sample_ids() == b.sample_ids() and len(a.sample_ids()) == 120
    for sid in a.sample_ids():
        np.testing.assert_array_equal(a.read(sid, "frames"), b.read(sid, "frames"))


def test_live_writers_temp_files_are_left_alone(tmp_path):
    final = tmp_path / "out.txt"
    other = tmp_path / f".out.txt.{HOST}@{os.getppid()}.abc.tmp"  # a running process's temp
    other.write_text("in progress")
    with atomic_path(final) as tmp:
        tmp.write_text("done")
    assert other.exists() and final.read_text() == "done"


def test_only_this_machines_dead_writers_temp_files_are_removed(tmp_path):
    """On a folder shared by a cluster's nodes, a process id that runs nowhere here may
    be another node's live writer: only temps named with this machine are removed."""
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has it
    final = tmp_path / "out.txt"
    dead_here = tmp_path / f".out.txt.{HOST}@{dead}.abc.tmp"
    elsewhere = [  # other nodes: names that start like this one's, one of them a domain
        tmp_path / f".out.txt.{HOST}{suffix}@{dead}.abc.tmp" for suffix in ("x", "-2", ".lan")
    ]
    for path in (dead_here, *elsewhere):
        path.write_text("half")
    with atomic_path(final) as tmp:
        assert tmp.name.startswith(f".out.txt.{HOST}@{os.getpid()}.")
        tmp.write_text("done")
    assert not dead_here.exists() and all(p.exists() for p in elsewhere)
    assert final.read_text() == "done"
