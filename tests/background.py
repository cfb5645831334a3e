"""Workflow runs that tests read, started when the session starts and run beside its
other tests.

Most of the suite's tests use one core (a model, a reader, a dry run's parse), and a
2-core machine ran it at ~1.5 cores on average. So the whole-DAG runs that tests read
(tests/conftest.py's ``_tasks``) start with the session, two at a time, each
``snakemake --cores 2`` at a lower priority (``nice``): they take the cores that the
other tests leave idle, and those tests keep theirs. A test that reads a run waits for
it; tests/conftest.py orders such tests last, in the order the runs start.

Each run's processes see the environment of the session's start (a test's
``monkeypatch.setenv`` does not reach them) and are killed if the session ends first."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .helpers import run_env, snakemake_command, write_config

#: the background runs' niceness: the other tests' processes first
NICENESS = 10
#: seconds a run may take; killed by ``timeout`` even if pytest itself was killed
TIMEOUT_S = 900


@dataclass(frozen=True)
class Task:
    """A run the session starts when a selected test reads it.

    ``make(folder, **fixtures)`` writes the run's inputs under ``folder`` (empty, its own)
    and returns ``(workdir, config)``: the workflow to run, its result the workdir that tests
    read. ``needs`` names the session fixtures it is given (made in the main thread,
    before the session's first test). ``wanted(item)`` says whether a test reads it."""

    name: str
    make: Callable[..., tuple[Path, dict]]
    wanted: Callable[[pytest.Item], bool]
    needs: tuple[str, ...] = ()


def reads_fixture(*names: str) -> Callable[[pytest.Item], bool]:
    """``wanted`` of a task whose result the fixtures ``names`` return."""
    return lambda item: any(n in getattr(item, "fixturenames", ()) for n in names)


class Background:
    """The session's background runs: ``start`` them, ``result`` waits for one, ``stop``
    kills what still runs."""

    def __init__(self, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="background-run")
        self._futures: dict[str, Future[Path]] = {}
        self._procs: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopped = False
        self._env = run_env()

    def start(self, task: Task, folder: Path, fixtures: dict[str, Any]) -> None:
        """Submit ``task``, to make its inputs in ``folder`` with ``fixtures``."""
        self._futures[task.name] = self._pool.submit(self._run, task, folder, fixtures)

    def result(self, name: str) -> Path:
        """The workdir of run ``name``, once it finished; its error if it failed."""
        if name not in self._futures:
            raise LookupError(f"background run {name!r} was not started: no test asked for it")
        return self._futures[name].result()

    def stop(self) -> None:
        """Cancel the runs not started yet and kill the processes of those still running."""
        with self._lock:
            self._stopped = True
            procs = list(self._procs)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for proc in procs:
            # poll() says None while the run's thread is reaping it: the group may be gone
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._pool.shutdown(wait=True)

    def _run(self, task: Task, folder: Path, fixtures: dict[str, Any]) -> Path:
        workdir, config = task.make(folder, **fixtures)
        workdir.mkdir(parents=True, exist_ok=True)
        write_config(workdir, config)
        self._snakemake(workdir)
        return workdir

    def _snakemake(self, workdir: Path) -> None:
        """The workflow in ``workdir`` (its output in ``workdir/snakemake.out``); raises
        with the end of that output when it failed."""
        with open(workdir / "snakemake.out", "w") as out, self._lock:
            if self._stopped:
                raise RuntimeError("the session ended before this run started")
            command = snakemake_command(workdir)
            proc = subprocess.Popen(
                ["timeout", "-s", "KILL", str(TIMEOUT_S), "nice", "-n", str(NICENESS), *command],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env=self._env,
                # its own process group, for stop() to kill its jobs too; not its own
                # session, which Linux's autogroup scheduling would weigh as much as the
                # session's, whatever its niceness
                process_group=0,
            )
            self._procs.add(proc)
        try:
            code = proc.wait()
        finally:
            with self._lock:
                self._procs.discard(proc)
        output = (workdir / "snakemake.out").read_text()
        killed = code in (-signal.SIGKILL, 128 + signal.SIGKILL)  # stop(), or ``timeout``
        why = f"was killed (after {TIMEOUT_S} s, or at the session's end)" if killed else "failed"
        assert code == 0, f"the workflow in {workdir} {why}:\n{output[-4000:]}"
