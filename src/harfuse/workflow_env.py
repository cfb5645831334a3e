"""Process environment for workflow jobs."""

from __future__ import annotations

import os
from pathlib import Path


def export_src_on_pythonpath(workflow_dir: str | os.PathLike[str]) -> None:
    """Put ``{workflow_dir}/src`` first on ``PYTHONPATH`` for the jobs Snakemake starts.

    Jobs in per-role conda environments (``--use-conda``) then import this checkout's
    harfuse without installing it into every environment.
    """
    src = str(Path(workflow_dir) / "src")
    rest = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != src]
    os.environ["PYTHONPATH"] = os.pathsep.join([src, *rest])


#: Snakemake command-line flags that run no job (maintenance and reports): the checks
#: before the work are not theirs to make (``--unlock`` must work whatever the config)
NO_JOB_FLAGS = frozenset(
    {
        "--unlock",
        "--cleanup-metadata",
        "--cm",
        "--cleanup-shadow",
        "--report",
        "--list-changes",
        "--lc",
        "--summary",
        "-S",
        "--detailed-summary",
        "-D",
        "--list-rules",
        "-l",
    }
)


def runs_jobs(argv: list[str]) -> bool:
    """Whether the Snakemake command ``argv`` may run jobs (dry runs count: they should
    report what the real run would hit)."""
    return not any(arg.split("=", 1)[0] in NO_JOB_FLAGS for arg in argv[1:])
