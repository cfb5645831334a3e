"""A failing job on the console: its traceback once, and a full disk as one plain line."""

from __future__ import annotations

import errno
import subprocess
import sys
import textwrap

import pytest

from harfuse.runlog import DataError, disk_full, log_to

#: a job writing a 4 MiB shard into OUT, logging to LOG, as the workflow's scripts do
JOB = """
import sys
import numpy as np
from harfuse.runlog import log_to
from harfuse.store.shards import ShardWriter

out, log = sys.argv[1:]
with log_to(log):
    with ShardWriter(out, "frames", {"fps": 1.0}) as writer:
        frames = np.random.default_rng(0).integers(0, 255, (64, 128, 128, 3), np.uint8)
        writer.write("s0", "frames", frames, {})
"""


def test_a_failing_job_logs_its_traceback_to_the_file_only(tmp_path, capsys):
    log = tmp_path / "job.log"
    with pytest.raises(ValueError, match="bad input"), log_to(log):
        raise ValueError("bad input")
    assert "Traceback" not in capsys.readouterr().err  # the interpreter prints it, once
    assert "Traceback" in log.read_text() and "ValueError: bad input" in log.read_text()


def test_a_data_error_is_its_message_on_the_console(tmp_path, capsys):
    log = tmp_path / "job.log"
    with pytest.raises(SystemExit) as stop, log_to(log):
        raise DataError("variant imu, split s1: 0 training samples")
    assert stop.value.code == 1
    assert capsys.readouterr().err == "harfuse: variant imu, split s1: 0 training samples\n"
    assert "Traceback" in log.read_text()


def test_disk_full_is_recognised_in_its_forms():
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    hdf5 = OSError("[Errno 28] Can't synchronously write data (file write failed)")
    assert disk_full(hdf5)
    try:
        try:
            raise OSError(errno.ENOSPC, "full")
        except OSError as inner:
            raise RuntimeError("writing the shard failed") from inner
    except RuntimeError as outer:
        assert disk_full(outer)
    assert not disk_full(OSError(errno.EACCES, "Permission denied"))


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs, or a skip saying why there is none."""
    where = tmp_path / "tiny"
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


def test_a_full_disk_is_one_plain_line_and_leaves_no_partial_file(tmp_path, tiny_disk):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(JOB))
    log = tmp_path / "job.log"
    done = subprocess.run(
        [sys.executable, str(script), str(tiny_disk / "shard-0.h5"), str(log)],
        capture_output=True,
        text=True,
        cwd=tiny_disk,
        check=False,
    )
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"harfuse: the disk holding {tiny_disk} is full (")
    assert "rerun the same command" in lines[0]
    assert list(tiny_disk.iterdir()) == []  # the partial shard was removed
    assert "Traceback" in log.read_text()  # the details stay in the job's log
