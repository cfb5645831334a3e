"""Atomic file creation: write to a temporary name in the same folder, fsync, rename.

A job killed at any moment leaves either no file or the complete file, never a partial
file under the final name. The temporary name, ``.{final name}.{host}@{pid}.{random}.tmp``,
says which machine's process writes it, so that the next writer of the same file removes
the leftovers of killed writers of its own machine only: on a folder shared by the nodes
of a cluster, a process id means nothing on another node. (A machine whose name changes,
such as a container's, leaves its killed writers' temporary files behind: harmless, and
never under the final name.)
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: this machine in temporary names: its name, which ``@`` ends (a host name holds letters,
#: digits, ``-`` and ``.``; a ``/`` or ``@`` of a name outside those rules becomes ``_``)
HOST = re.sub(r"[/@]", "_", socket.gethostname()) or "localhost"


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` on success.

    The caller writes the temporary path completely (with any library). On an exception
    the temporary file is removed and ``final`` is left untouched.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_orphans(final)
    prefix = f".{final.name}.{HOST}@{os.getpid()}."
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp made it 0600: give it the permissions any tool's new file gets
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync_file(tmp)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(final: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8) atomically to ``final``."""
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(final: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically to ``final``."""
    write_text(final, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def _remove_orphans(final: Path) -> None:
    """Delete temporary files of ``final`` left by writers of this machine that were
    killed (their process id, part of the name, no longer runs here); another machine's
    are left alone."""
    mine = f".{final.name}.{HOST}@"
    for tmp in final.parent.glob(f"{glob.escape(mine)}*.tmp"):
        pid = tmp.name[len(mine) :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)


def _umask() -> int:
    """The process umask (read by setting it, then setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
