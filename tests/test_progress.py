"""``harfuse progress`` on a real training job: its epoch, rate and ETA while it runs."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from harfuse import cli
from harfuse.progress import running_jobs

from .conftest import INPUTS

#: an IMU training job on the tiny demo's shards, long enough to be watched, logging as a
#: workflow job does
JOB = """
import sys
from harfuse.runlog import log_to
from harfuse.stages import train

prepared, log, out = sys.argv[1:]
with log_to(log):
    train.run(
        f"{prepared}/manifest.parquet",
        f"{prepared}/classes.json",
        {"imu": [f"{prepared}/imu.h5"]},
        "imu",
        {"model": "single", "modalities": ["imu"]},
        "cross_subject",
        {"name": "full"},
        {"epochs": 400, "batch_size": 2, "lr": 1e-3, "weight_decay": 0.0, "seed": 0,
         "patience": None},
        INPUTS,
        "cpu",
        out,
    )
"""


def test_progress_shows_a_running_training_jobs_epoch_and_eta(prepared, tmp_path, capsys):
    logs = tmp_path / "logs"
    log = logs / "train_variant" / "demo" / "imu" / "cross_subject" / "full.log"
    script = tmp_path / "job.py"
    script.write_text(f"INPUTS = {INPUTS!r}\n" + textwrap.dedent(JOB))
    job = subprocess.Popen(
        [sys.executable, str(script), str(prepared), str(log), str(tmp_path / "run")],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        jobs: list = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and job.poll() is None:
            jobs = [j for j in running_jobs(logs) if j.get("rate")]
            if jobs:
                break
            time.sleep(0.5)
        assert jobs, job.stderr.read() if job.poll() is not None else "no progress in 120 s"
        (record,) = jobs
        assert record["job"] == "train_variant/demo/imu/cross_subject/full"
        assert record["stage"] == "train joint" and record["position"].startswith("joint epoch ")
        assert record["unit"] == "samples" and record["eta_s"] > 0
        assert cli.main(["progress", str(logs)]) == cli.OK
        out = capsys.readouterr().out.splitlines()
        assert out[0].split() == ["job", "stage", "position", "rate", "ETA", "updated"]
        assert "train_variant/demo/imu/cross_subject/full  train joint  joint epoch" in out[1]
        assert cli.main(["progress", str(logs), "--json"]) == cli.OK
        assert json.loads(capsys.readouterr().out)[0]["job"] == record["job"]
    finally:
        job.kill()
        job.wait()
    # a killed job is not running any more
    assert running_jobs(logs) == []
    assert cli.main(["progress", str(logs)]) == cli.OK
    assert capsys.readouterr().out.startswith("no harfuse job is running")
    # its file stays (a kill runs no clean-up): only --cluster, for remote jobs, lists it
    assert Path(f"{log}.progress.json").exists() and len(running_jobs(logs, local=False)) == 1


def test_progress_before_the_first_job_says_none_runs(tmp_path, monkeypatch, capsys):
    (tmp_path / "Snakefile").write_text("")  # a workflow folder with no logs/ yet
    monkeypatch.chdir(tmp_path)
    assert cli.main(["progress"]) == cli.OK
    assert capsys.readouterr().out.startswith("no harfuse job is running")
    monkeypatch.chdir(tmp_path.parent)  # elsewhere: say where to run it
    assert cli.main(["progress"]) == cli.USAGE
    assert "run from the workflow's folder" in capsys.readouterr().err
