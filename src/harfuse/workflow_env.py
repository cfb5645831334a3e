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
