"""What a parse-time check found, remembered on disk between Snakemake commands.

Checking a variant's model (built on torch's ``meta`` device, one dummy sample through
it) means importing torch and torchvision: about 5 s of every ``snakemake`` command,
dry runs included, on a 2-core machine. Its answer depends only on the check's inputs
and on the code and packages that compute it, so :func:`recall` / :func:`remember` keep it
under a digest of all of these: the inputs, :func:`harfuse.provenance.code_version` of
the modules it runs, the config schema, and the installed versions of the packages
named. A change to any of them is another key, so a stale answer is never read.

Where: ``$HARFUSE_CACHE`` when set (``off``: nothing is kept), else
``$XDG_CACHE_HOME/harfuse`` or ``~/.cache/harfuse``, one small JSON file per answer in
one folder per version of the code and packages (the :data:`KEEP_VERSIONS` latest). The
memo is best effort: a folder that cannot be written, or a file that cannot be read,
only means the check runs again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from harfuse.config_schema import SCHEMA_PATH
from harfuse.provenance import code_version
from harfuse.store.atomic import write_json

#: environment variable: the memo's folder, or ``off``
CACHE_ENV = "HARFUSE_CACHE"


def cache_dir() -> Path | None:
    """The memo's folder (not created here), or None when ``$HARFUSE_CACHE`` is ``off``
    or there is no home folder."""
    chosen = os.environ.get(CACHE_ENV, "")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "harfuse"
    home = os.path.expanduser("~")
    if home == "~":  # no HOME and no passwd entry (some containers): keep nothing
        return None
    return Path(home) / ".cache" / "harfuse"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


def _digest(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


@cache
def _made_by(modules: tuple[str, ...], packages: tuple[str, ...]) -> str:
    """Digest of the code versions of ``modules``, the config schema (its defaults are
    code too), the versions of ``packages`` and Python's: read once a process (a
    Snakefile asks once per variant; a process runs the code it imported)."""
    return _digest(
        {
            "code": {m: code_version(m) for m in modules},
            "schema": hashlib.sha256(SCHEMA_PATH.read_bytes()).hexdigest(),
            "packages": {p: _version(p) for p in packages},
            "python": list(sys.version_info[:2]),
        }
    )


def memo_key(inputs: Any, modules: Sequence[str], packages: Sequence[str]) -> str:
    """``{made by}/{inputs}``: names the answer of a check on ``inputs`` (JSON-able) as
    computed by harfuse ``modules`` (their code versions, transitively) with ``packages``
    (their installed versions) on this Python; answers of other code live in other
    folders (:func:`remember` prunes the old ones)."""
    return f"{_made_by(tuple(modules), tuple(packages))[:16]}/{_digest(inputs)}"


#: folders of answers (one per version of the code and packages) kept per kind of check
KEEP_VERSIONS = 8


def _path(kind: str, key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / kind / f"{key}.json"


def recall(kind: str, key: str) -> dict[str, Any] | None:
    """The answer of check ``kind`` kept under ``key`` (:func:`memo_key`), or None (also
    for a file that is not a JSON object)."""
    path = _path(kind, key)
    if path is None:
        return None
    try:
        answer = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return answer if isinstance(answer, dict) else None


def remember(kind: str, key: str, answer: dict[str, Any]) -> None:
    """Keep ``answer`` (JSON-able) under ``key``; written whole or not at all (a rename),
    and silently not at all where the folder cannot be written. The first answer of new
    code drops the folders of all but the :data:`KEEP_VERSIONS` latest."""
    path = _path(kind, key)
    if path is None:
        return
    try:
        new = not path.parent.is_dir()
        write_json(path, answer)
        if new:
            _prune(path.parent)
    except OSError:
        return


def _prune(current: Path) -> None:
    """Remove the answer folders beside ``current`` but ``current`` and the
    :data:`KEEP_VERSIONS` - 1 most recently written others."""
    others = [p for p in current.parent.iterdir() if p.is_dir() and p != current]
    others.sort(key=lambda p: p.stat().st_mtime_ns)
    for old in others[: max(len(others) - KEEP_VERSIONS + 1, 0)]:
        shutil.rmtree(old, ignore_errors=True)
