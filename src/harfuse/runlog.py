"""Logging for workflow jobs: everything, tracebacks included, goes to the rule's log file."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: suffix of the progress file beside a job's log (``harfuse progress`` reads them)
PROGRESS_SUFFIX = ".progress.json"
#: seconds between two writes of a job's progress file
PROGRESS_EVERY_S = 2.0
_current: dict[str, Any] = {}  # the running job's progress file and last write time


def progress_path(log_path: str | os.PathLike[str]) -> Path:
    """The progress file of the job logging to ``log_path``."""
    return Path(f"{log_path}{PROGRESS_SUFFIX}")


def report_progress(
    stage: str, done: int, total: int, unit: str, position: str = "", force: bool = False
) -> None:
    """Record how far the running job is (``done`` of ``total`` ``unit``; ``position`` in
    words, e.g. ``epoch 3/10``), its rate and ETA, in its progress file (JSON, written
    atomically at most every :data:`PROGRESS_EVERY_S`, or now with ``force``). Nothing
    outside a :func:`log_to` block (a test, the CLI)."""
    path = _current.get("path")
    now = time.time()
    if path is None or (not force and now - _current["written"] < PROGRESS_EVERY_S):
        return
    # the rate since this count began (a new phase of training is a new count)
    t0, done0 = _current.setdefault("started", {}).setdefault((stage, total, unit), (now, done))
    rate = (done - done0) / (now - t0) if now > t0 and done > done0 else None
    record = {
        "stage": stage,
        "position": position or f"{done}/{total} {unit}",
        "done": done,
        "total": total,
        "unit": unit,
        "rate": rate,
        "eta_s": (total - done) / rate if rate else None,
        "pid": os.getpid(),
        "updated": now,
        "finished": done >= total,
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)
    _current["written"] = now


class DataError(ValueError):
    """A job cannot do its work with the data it was given (e.g. every sample of a
    modality quarantined upstream); the message says what and what to do. The console
    shows the message alone (:func:`log_to`), the traceback stays in the job's log."""


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or one it was raised from) is a write to a full disk: ``ENOSPC``,
    or HDF5's wording of it."""
    seen: BaseException | None = error
    while seen is not None:
        text = str(seen)
        if (isinstance(seen, OSError) and seen.errno == errno.ENOSPC) or (
            "No space left on device" in text or "Errno 28" in text
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def disk_full_message(where: str | os.PathLike[str] = ".") -> str:
    """The one console line for a job that ran out of disk: what happened, how much is free
    now, what was removed and what to do."""
    free = shutil.disk_usage(where).free / 2**20
    return (
        f"harfuse: the disk holding {Path(where).resolve()} is full ({free:.0f} MiB free now). "
        "This job's partial output was removed (outputs are written under a temporary name "
        "and renamed when complete), and every finished output is kept. Free some space, "
        "then rerun the same command: only what is missing runs again."
    )


@contextlib.contextmanager
def log_to(path: str | os.PathLike[str], level: int = logging.INFO) -> Iterator[logging.Logger]:
    """Send log records and warnings to ``path`` for the duration of a job; warnings and
    errors also go to stderr, so the Snakemake console shows them without the progress.
    What the job's libraries print to stderr themselves goes to ``path`` too.

    An exception escaping the block is logged with its traceback to ``path`` only, then
    re-raised so the job fails: the console shows the traceback once (the interpreter's).
    A full disk is one plain line on the console (:func:`disk_full_message`) instead, and
    a :class:`DataError` its message.
    """
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    real_stderr = sys.stderr
    console = logging.StreamHandler(real_stderr)
    console.setLevel(logging.WARNING)
    log_file = logging.FileHandler(path, mode="w")
    logging.basicConfig(level=level, format=FORMAT, handlers=[log_file, console], force=True)
    logging.captureWarnings(True)
    logger = logging.getLogger("harfuse")
    # what libraries print to stderr themselves (HDF5's errors in destructors, say) and
    # errors in destructors go to the log file; the console gets the log's warnings
    unraisable = sys.unraisablehook
    _current.clear()
    _current.update(path=progress_path(path), written=0.0)
    report_progress("starting", 0, 1, "steps", "loading (imports, models, inputs)", force=True)
    sys.stderr = log_file.stream
    sys.unraisablehook = lambda u: log_file.stream.write(
        f"error in {u.object!r}: {u.exc_type.__name__}: {u.exc_value}\n"
    )
    try:
        yield logger
    except BaseException as error:
        logging.getLogger().removeHandler(console)  # the traceback: in the log file
        logger.exception("job failed")
        if isinstance(error, DataError):
            print(f"harfuse: {error}", file=real_stderr, flush=True)
            raise SystemExit(1) from None
        if isinstance(error, Exception) and disk_full(error):
            print(disk_full_message(), file=real_stderr, flush=True)
            logging.shutdown()
            # HDF5's clean-up of a file whose writes failed can crash the interpreter at
            # exit; the partial output is already gone and the log written
            os._exit(1)
        raise
    finally:
        sys.stderr, sys.unraisablehook = real_stderr, unraisable
        progress_path(path).unlink(missing_ok=True)  # the job is over: nothing to watch
        _current.clear()
        logging.shutdown()
