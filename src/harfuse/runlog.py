"""Logging for workflow jobs: everything, tracebacks included, goes to the rule's log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def log_to(path: str | os.PathLike[str], level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send log records and warnings to ``path`` for the duration of a job; warnings and
    errors also go to stderr, so the Snakemake console shows them without the progress.

    An exception escaping the block is logged with its traceback, then re-raised so the
    job fails.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.WARNING)
    handlers = [logging.FileHandler(path, mode="w"), console]
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)
    logger = logging.getLogger("harfuse")
    try:
        yield logger
    except BaseException:
        logger.exception("job failed")
        raise
    finally:
        logging.shutdown()
