"""Compare the installed distributions with the lock file; exit 1 listing what differs.

Usage: ``python tools/lockcheck.py [--sync] requirements/lock-py3.11-linux-x86_64.txt``

The installed side is what ``pip freeze --all`` lists for the running interpreter, read
from the distributions' metadata so that packages installed from a URL or in editable
mode are seen too; ``pip`` (the installer) and harfuse itself are not in the lock and
are left out. Names are compared in their normalised form (PEP 503), versions as exact
strings. ``--sync`` first uninstalls what the lock does not name (a package an older
lock had), so that an existing environment follows a changed lock.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")
_UNLOCKED = {"pip", "harfuse"}


def normalise(name: str) -> str:
    """PEP 503 normal form: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lines: list[str]) -> dict[str, str]:
    """``name==version`` lines (hash continuations and comments skipped) as {name: version}."""
    pins: dict[str, str] = {}
    for line in lines:
        match = _PIN.match(line.strip())
        if match:
            pins[normalise(match.group(1))] = match.group(3)
    return pins


def read_lock(path: Path) -> dict[str, str]:
    """Every pin of a requirements lock file, as {normalised name: version}."""
    return read_pins(path.read_text(encoding="utf-8").splitlines())


def installed() -> dict[str, str]:
    """{normalised name: version} of every distribution this interpreter sees (the first
    of a name on ``sys.path``, as Python imports it), without pip and harfuse."""
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name = normalise(dist.metadata["Name"] or "")
        if name and name not in _UNLOCKED:
            found.setdefault(name, dist.version)
    return found


def uninstall_unlocked(locked: dict[str, str]) -> list[str]:
    """Uninstall (with pip) every installed distribution the lock does not name."""
    extra = sorted(set(installed()) - set(locked))
    if extra:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--yes", *extra], check=True)
    return extra


def differences(locked: dict[str, str], present: dict[str, str]) -> list[str]:
    """One line per package whose installed version is not the locked one, sorted."""
    lines = []
    for name in sorted(locked.keys() | present.keys()):
        want, have = locked.get(name), present.get(name)
        if want == have:
            continue
        if have is None:
            lines.append(f"{name}: locked {want}, not installed")
        elif want is None:
            lines.append(f"{name}: installed {have}, not in the lock")
        else:
            lines.append(f"{name}: locked {want}, installed {have}")
    return lines


def main(argv: list[str]) -> int:
    sync = "--sync" in argv
    argv = [a for a in argv if a != "--sync"]
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    lock = Path(argv[0])
    if sync:
        for name in uninstall_unlocked(read_lock(lock)):
            print(f"uninstalled {name}: not in {lock}")
    diff = differences(read_lock(lock), installed())
    if diff:
        print(f"the environment differs from {lock} in {len(diff)} package(s):", file=sys.stderr)
        for line in diff:
            print(f"  {line}", file=sys.stderr)
        print("rebuild it: rm -rf .venv && make venv", file=sys.stderr)
        return 1
    print(f"the environment equals {lock} ({len(read_lock(lock))} packages)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
