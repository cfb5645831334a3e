"""``harfuse progress``: what each running workflow job is doing, read from the progress
files the jobs keep beside their logs (:func:`harfuse.runlog.report_progress`)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from harfuse.runlog import PROGRESS_SUFFIX


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: it exists
        return True
    return True


def running_jobs(logs: str | os.PathLike[str] = "logs", local: bool = True) -> list[dict[str, Any]]:
    """One record per job under ``logs`` that is running: its ``job`` (the log's path
    under ``logs``: rule/dataset/...), ``stage``, ``position``, ``done``, ``total``,
    ``unit``, ``rate`` (per s), ``eta_s`` and ``age_s`` (seconds since it last wrote). With
    ``local``, a job whose process is gone (killed) is left out; a cluster job's process
    is elsewhere: pass ``local=False``."""
    root = Path(logs)
    if not root.is_dir():  # the workflow has not started a job yet
        return []
    jobs = []
    for path in sorted(root.rglob(f"*{PROGRESS_SUFFIX}")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):  # being replaced: the next look sees it
            continue
        if local and not _alive(int(record.get("pid", -1))):
            continue
        record["job"] = str(path.relative_to(root)).removesuffix(PROGRESS_SUFFIX)
        record["job"] = record["job"].removesuffix(".log")
        record["age_s"] = max(0.0, time.time() - float(record["updated"]))
        jobs.append(record)
    return jobs


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def render(jobs: list[dict[str, Any]]) -> str:
    """A table of :func:`running_jobs`, or a line saying none runs."""
    if not jobs:
        return "no harfuse job is running (no progress file of a live job under the logs)\n"
    rows = [("job", "stage", "position", "rate", "ETA", "updated")]
    for j in jobs:
        rate = f"{j['rate']:.1f} {j['unit']}/s" if j.get("rate") else "?"
        rows.append(
            (
                j["job"],
                j["stage"],
                j["position"],
                rate,
                _clock(j.get("eta_s")),
                f"{j['age_s']:.0f} s ago",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() + "\n" for r in rows
    )
