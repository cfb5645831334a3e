"""Logging for workflow jobs: everything, tracebacks included, goes to the rule's log file."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class DataError(RuntimeError):
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
        logging.shutdown()
