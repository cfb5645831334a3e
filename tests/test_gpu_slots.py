"""GPU slots without a GPU: fake device lists, concurrent jobs, a killed job's slot."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from harfuse import device as device_mod
from harfuse import gpu_slots
from harfuse.gpu_slots import NoFreeGpu, claim, lock_dir, visible_devices

SRC = str(Path(__file__).resolve().parents[1] / "src")

#: a job in a subprocess: claim a slot among ``argv[2]`` GPUs, print its id, hold it
#: until stdin closes (or the process is killed)
HOLDER = textwrap.dedent(
    """
    import sys
    from harfuse.gpu_slots import claim
    slot = claim(sys.argv[2].split(","), sys.argv[1], timeout=float(sys.argv[3]), poll=0.02)
    print(slot.device_id, flush=True)
    sys.stdin.read()
    """
)


def holder(locks: Path, visible: list[str], timeout: float = 5.0) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(locks), ",".join(visible), str(timeout)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def release_process_slot() -> None:
    """Give this process's slot back (each test claims its own)."""
    if gpu_slots._held is not None:
        gpu_slots._held.release()
        gpu_slots._held = None


@pytest.fixture(autouse=True)
def _no_process_slot():
    release_process_slot()
    yield
    release_process_slot()


def test_visible_devices_from_env_or_count():
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "3"}) == ["3"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "GPU-ab12,GPU-cd34"}) == [
        "GPU-ab12",
        "GPU-cd34",
    ]
    assert visible_devices({"CUDA_VISIBLE_DEVICES": "1,-1,2"}) == ["1"]  # CUDA stops at -1
    assert visible_devices({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_devices({}, count=lambda: 4) == ["0", "1", "2", "3"]


def test_lock_dir_per_user_override_and_slurm_job():
    assert lock_dir({}) == Path(f"/tmp/harfuse-gpu-{os.getuid()}")
    assert lock_dir({"HARFUSE_GPU_LOCK_DIR": "/x"}) == Path("/x")
    assert lock_dir({"HARFUSE_GPU_LOCK_DIR": "/x", "SLURM_JOB_ID": "42"}) == Path("/x/slurm-42")


def test_two_claims_get_different_gpus(tmp_path):
    with claim(["0", "1"], tmp_path, timeout=0) as a, claim(["0", "1"], tmp_path, timeout=0) as b:
        assert (a.device_id, a.ordinal) == ("0", 0)
        assert (b.device_id, b.ordinal) == ("1", 1)
    with claim(["0", "1"], tmp_path, timeout=0) as again:  # released: GPU 0 is free again
        assert again.device_id == "0"


def test_more_claims_than_gpus_time_out_clearly(tmp_path):
    held = [claim(["0", "1"], tmp_path, timeout=0) for _ in range(2)]
    with pytest.raises(NoFreeGpu, match=r"all 2 GPUs \(0, 1\) stayed held .*--resources gpu=N"):
        claim(["0", "1"], tmp_path, timeout=0.1, poll=0.02)
    held[1].release()
    assert claim(["0", "1"], tmp_path, timeout=0).device_id == "1"
    with pytest.raises(NoFreeGpu, match="no GPU is visible"):
        claim([], tmp_path)


def test_concurrent_jobs_get_distinct_gpus(tmp_path):
    visible = ["0", "1", "2", "3"]
    jobs = [holder(tmp_path, visible) for _ in visible]  # all start at once
    try:
        got = [job.stdout.readline().strip() for job in jobs]  # all hold their slot now
        assert sorted(got) == visible
        late = holder(tmp_path, visible, timeout=0.2)  # a fifth job: nothing left
        _, err = late.communicate(timeout=10)
        assert late.returncode != 0
        assert "NoFreeGpu: all 4 GPUs (0, 1, 2, 3) stayed held" in err
    finally:
        for job in jobs:
            job.communicate(timeout=10)  # closes stdin: the job ends, its slot too


def test_killed_job_slot_is_reclaimed(tmp_path):
    job = holder(tmp_path, ["7"])
    assert job.stdout.readline().strip() == "7"
    with pytest.raises(NoFreeGpu):
        claim(["7"], tmp_path, timeout=0)
    job.send_signal(signal.SIGKILL)  # no cleanup runs in the job
    job.communicate(timeout=10)
    assert job.returncode == -signal.SIGKILL
    with claim(["7"], tmp_path, timeout=0) as slot:  # the kernel dropped its lock
        assert slot.device_id == "7"


@pytest.fixture
def fake_cuda(monkeypatch, tmp_path):
    """torch sees ``count`` fake GPUs; device selection is recorded, no CUDA is touched."""
    selected = []
    monkeypatch.setenv("HARFUSE_GPU_LOCK_DIR", str(tmp_path))
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", selected.append)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d: "Fake GPU")
    return selected


def test_resolve_device_takes_a_free_gpu_and_keeps_it(fake_cuda, tmp_path):
    with claim(["0", "1"], tmp_path, timeout=0):  # another job holds GPU 0
        dev = device_mod.resolve_device("cuda")
        assert dev == torch.device("cuda", 1)
        assert fake_cuda == [dev]
        assert device_mod.resolve_device("auto") == dev  # same job, same GPU


def test_resolve_device_uses_the_cuda_visible_devices_gpu(fake_cuda, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")  # e.g. SLURM's allocation
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    dev = device_mod.resolve_device("cuda")
    assert dev == torch.device("cuda", 0)  # GPU 3 is torch's cuda:0 in this process
    assert gpu_slots.process_slot().device_id == "3"
    assert gpu_slots.process_slot().path.parent.name == "slurm-42"


def test_cpu_never_touches_locks(monkeypatch):
    def no_locks(*a, **k):
        raise AssertionError("a CPU job claimed a GPU slot")

    monkeypatch.setattr(gpu_slots, "claim", no_locks)
    monkeypatch.setattr(gpu_slots, "process_slot", no_locks)
    assert device_mod.resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device_mod.resolve_device("auto") == torch.device("cpu")
