"""The per-rule conda environments (``envs/*.yaml``) pinned from the lock.

    python tools/envpins.py requirements/lock-py3.11-linux-x86_64.txt          # rewrite
    python tools/envpins.py requirements/lock-py3.11-linux-x86_64.txt --check  # exit 1 if stale

Each ``envs/{role}.yaml`` names the packages its jobs import in a ``# roots:`` line. Its
pip section is those roots and everything they need, transitively, each at the lock's
version. The dependency edges come from the lock's own ``# via`` comments (the resolver
writes who required each package), so no package metadata is consulted and the result
depends on the lock file alone. ``make lock`` rewrites the environments after the lock.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``tools`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.lockcheck import normalise, read_lock

ENVS = Path(__file__).resolve().parents[1] / "envs"
_ROOTS = re.compile(r"^# roots: (.+)$", re.MULTILINE)
_PIP = re.compile(r"^  - pip:\n(?:      - .*\n)*", re.MULTILINE)


def required_by(lock_text: str) -> dict[str, set[str]]:
    """{package: packages of the lock that require it}, from the ``# via`` comments."""
    edges: dict[str, set[str]] = {}
    current = None
    in_via = False
    for line in lock_text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = normalise(re.split(r"[=\[ ;]", line, maxsplit=1)[0])
            edges[current] = set()
            in_via = False
            continue
        text = line.strip()
        if current is None or not text.startswith("#"):
            continue
        if not line[0].isspace():  # a comment at column 0 ends the package's block
            current, in_via = None, False
            continue
        body = text.lstrip("#").strip()
        if body.startswith("via"):
            in_via = True
            body = body[3:].strip()
        if in_via and body and not body.startswith("-") and "(" not in body:
            edges[current].add(normalise(body))
    return edges


def closure(roots: list[str], lock_text: str) -> set[str]:
    """``roots`` and every package of the lock they require, transitively."""
    children: dict[str, set[str]] = {}
    for child, parents in required_by(lock_text).items():
        for parent in parents:
            children.setdefault(parent, set()).add(child)
    found: set[str] = set()
    stack = [normalise(r) for r in roots]
    while stack:
        name = stack.pop()
        if name not in found:
            found.add(name)
            stack.extend(children.get(name, ()))
    return found


def roots(env_text: str, path: Path) -> list[str]:
    """The ``# roots:`` packages of an environment file."""
    match = _ROOTS.search(env_text)
    if match is None:
        raise ValueError(f"{path}: no '# roots: pkg, pkg' line naming what its jobs import")
    return [r.strip() for r in match.group(1).split(",") if r.strip()]


def render(env_text: str, path: Path, lock: Path) -> str:
    """``env_text`` with its pip section replaced by the closure of its roots at the
    lock's versions, sorted by name."""
    lock_text = lock.read_text(encoding="utf-8")
    pins = read_lock(lock)
    wanted = roots(env_text, path)
    missing = [r for r in wanted if normalise(r) not in pins]
    if missing:
        raise ValueError(f"{path}: roots {missing} are not in {lock}")
    lines = "".join(
        f"      - {name}=={pins[name]}\n" for name in sorted(closure(wanted, lock_text))
    )
    if _PIP.search(env_text) is None:
        raise ValueError(f"{path}: no '  - pip:' section")
    return _PIP.sub(lambda _: "  - pip:\n" + lines, env_text, count=1)


def python_version(env_text: str) -> str | None:
    """The ``python=X.Y`` of an environment file, if it names one."""
    match = re.search(r"^  - python=(\d+\.\d+)\s*$", env_text, re.MULTILINE)
    return match.group(1) if match else None


def lock_python(lock: Path) -> str | None:
    """The Python a lock is for, from its name (``lock-py3.11-...``)."""
    match = re.search(r"lock-py(\d+\.\d+)-", lock.name)
    return match.group(1) if match else None


def main(argv: list[str]) -> int:
    if not argv or len(argv) > 2 or (len(argv) == 2 and argv[1] != "--check"):
        print(__doc__, file=sys.stderr)
        return 2
    lock, check = Path(argv[0]), len(argv) == 2
    stale = []
    for path in sorted(ENVS.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        if python_version(text) != lock_python(lock):
            print(f"{path.name}: python={python_version(text)}, {lock.name} is for another")
            continue
        new = render(text, path, lock)
        if new != text:
            stale.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    if check and stale:
        names = ", ".join(p.name for p in stale)
        print(f"{names} differ from {lock}: run `make lock`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
