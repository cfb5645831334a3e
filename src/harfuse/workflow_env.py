"""Process environment for workflow jobs."""

from __future__ import annotations

import os
from collections.abc import Set as AnySet
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


#: what a requested target reaches, by rule name or by a piece of its output path: the
#: checks before the work run only for the stages a run will reach
_REACHES = (
    ("train", ("all", "train_variant", "build_report", "/runs/", "/report/")),
    ("features", ("extract_features", "/features/")),
    ("flow", ("compute_flow", "/flow-")),
)


def requested_targets(argv: list[str]) -> set[str]:
    """The targets (rule names or files) of the Snakemake command ``argv``, read with
    Snakemake's own argument parser (the workflow is parsed before Snakemake hands its
    targets to it); empty for the default target, or when the command cannot be read."""
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(argv[1:])
    except (SystemExit, Exception):  # a command Snakemake itself rejects says why
        return set()
    return set(getattr(args, "targets", None) or ())


def reached_stages(targets: AnySet[str]) -> set[str] | None:
    """The stages among ``train``, ``features`` and ``flow`` that Snakemake ``targets``
    (rule names or files) reach; None (everything) without targets (the default target,
    ``all``). Training reaches every stage before it."""
    if not targets:
        return None
    reached = set()
    for target in targets:
        for stage, marks in _REACHES:
            if target in marks or any(m.startswith("/") and m in target for m in marks):
                reached.add(stage)
    return {"train", "features", "flow"} if "train" in reached else reached
