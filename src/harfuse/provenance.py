"""Code versions: a stage reruns when the harfuse code it runs changes.

``code_version("harfuse.stages.flow")`` hashes the source of that module and of every
harfuse module it imports, transitively. Rules pass it as a ``code_version`` param, so
Snakemake's params rerun trigger reruns exactly the stages whose code changed. Sources
are read as text (nothing is imported), so the Snakefile can call it cheaply.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

PACKAGE = "harfuse"
_ROOT = Path(__file__).resolve().parent


def module_path(name: str, root: Path = _ROOT) -> Path | None:
    """Source file of harfuse module ``name`` under ``root`` (the package folder)."""
    parts = name.split(".")[1:]
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


#: the start of a line that begins an import of harfuse (top level or inside a function)
_IMPORT_START = re.compile(
    rf"^[ \t]*(?:from[ \t]+{PACKAGE}[\w.]*[ \t]+import\b|import[ \t]+{PACKAGE}\b)", re.M
)


def imported_modules(source: str) -> set[str]:
    """harfuse modules that ``source`` imports, including the submodules named in
    ``from harfuse.x import y`` and the parent packages. harfuse uses absolute imports
    only (ruff's TID252 enforces it), so relative imports need no resolving.

    Only the statements that start like a harfuse import are parsed (a tenth of the time
    of parsing the whole module, which a Snakefile does for each rule's version); the
    whole module is parsed when one of them is not Python on its own (a docstring line
    that only reads like one). A docstring line that is a whole harfuse import counts as
    one: an extra module in a version, never a missing one."""
    try:
        statements = "\n".join(_import_statements(source))
        return _modules_in(ast.parse(statements))
    except SyntaxError:
        return _modules_in(ast.parse(source))


def _import_statements(source: str) -> Iterator[str]:
    """Each statement of ``source`` that starts like a harfuse import, dedented, with its
    parenthesised or backslash-continued lines."""
    for match in _IMPORT_START.finditer(source):
        start = end = match.end()
        while True:
            newline = source.find("\n", end)
            end = len(source) if newline < 0 else newline
            text = source[start:end]
            if text.count("(") > text.count(")") or text.rstrip().endswith("\\"):
                end += 1
                if end < len(source):
                    continue
            break
        yield source[match.start() : end].strip()


def _modules_in(tree: ast.AST) -> set[str]:
    """harfuse modules (and their parent packages) that the imports of ``tree`` name."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == PACKAGE:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return found | parents


@lru_cache(maxsize=1024)
def _imports_of(source: str) -> frozenset[str]:
    """:func:`imported_modules`, remembered by source text: a Snakefile asks for the same
    modules' versions once per rule and per job, and parsing them is most of the cost."""
    return frozenset(imported_modules(source))


def code_version(module: str, root: Path = _ROOT) -> str:
    """12 hex digits of SHA-256 over ``module``'s source and its harfuse imports'."""
    digest = hashlib.sha256()
    seen: set[str] = set()
    stack = [module]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_path(name, root)
        if path is None:  # a name imported from a module, not a module itself
            continue
        stack.extend(_imports_of(path.read_text(encoding="utf-8")) - seen)
    for name in sorted(seen):
        path = module_path(name, root)
        if path is not None:
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]
