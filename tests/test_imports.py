"""The package's import graph: no cycle; stage adapters sit on top, nothing imports them."""

from __future__ import annotations

import ast

from harfuse.provenance import _ROOT, module_path

from .conftest import REPO


def modules() -> list[str]:
    """Every harfuse module, dotted."""
    names = []
    for path in sorted(_ROOT.rglob("*.py")):
        parts = path.relative_to(_ROOT.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imports(name: str) -> set[str]:
    """harfuse modules that ``name`` imports (anywhere in it), resolved to modules: ``from
    harfuse.x import y`` counts as ``harfuse.x.y`` where that is a module, else ``harfuse.x``."""
    tree = ast.parse(module_path(name).read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("harfuse"))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harfuse"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if module_path(sub) is not None else node.module)
    # a package's __init__ re-exporting its submodules is not a cycle of theirs
    return {m for m in found if not name.startswith(m + ".")} - {name}


def test_no_import_cycle():
    graph = {m: imports(m) for m in modules()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt) :], nxt] if nxt in path else [node, nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def package(module: str) -> str:
    """``harfuse.store.shards`` -> ``harfuse.store`` (a top-level module is its own)."""
    return ".".join(module.split(".")[:2])


def test_no_cycle_between_packages_and_the_store_imports_none():
    """Packages import downward only: no cycle between them, and ``harfuse.store`` (the
    on-disk contract: shards, manifest, quarantine, run folders) imports no other harfuse
    package (the model-input pipeline over it is ``harfuse.data``)."""
    graph: dict[str, set[str]] = {}
    for m in modules():
        graph.setdefault(package(m), set()).update(
            package(i) for i in imports(m) if package(i) != package(m)
        )
    assert graph["harfuse.store"] == set(), graph["harfuse.store"]

    def reach(start: str) -> set[str]:
        seen, stack = set(), list(graph[start])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(graph.get(node, ()))
        return seen

    cyclic = sorted(p for p in graph if p in reach(p))
    assert not cyclic, f"packages in an import cycle: {cyclic}"


def test_nothing_below_the_stages_imports_them():
    """Stage modules adapt files to the pure functions; no other module, predict and the
    CLI included, may reach into them (they would drift from the workflow)."""
    for m in modules():
        if m.startswith("harfuse.stages"):
            continue
        reached = sorted(i for i in imports(m) if i.startswith("harfuse.stages"))
        assert not reached, f"{m} imports {reached}"
    assert (REPO / "src" / "harfuse" / "stages").is_dir()


def closure(module: str) -> set[str]:
    """``module`` and every harfuse module it imports, transitively (what its stage's
    ``code_version`` hashes, parent packages aside)."""
    seen: set[str] = set()
    stack = [module]
    while stack:
        name = stack.pop()
        if name not in seen:
            seen.add(name)
            stack.extend(imports(name) - seen)
    return seen


def test_a_modality_stage_depends_on_its_own_modality_only():
    """Editing one modality's code reruns that stage, not the others: the preprocessing
    shared with predict is one module per modality, and the per-file stage's code version
    is its own module's and the modality's (``sample_files.smk``)."""
    others = {
        "harfuse.stages.frames": ("media.audio", "media.imu", "flow.compute"),
        "harfuse.stages.audio": ("media.frames", "media.imu", "flow.compute"),
        "harfuse.stages.flow": ("media.audio", "media.imu"),
        "harfuse.stages.sample_files": ("media.frames", "media.audio", "media.imu", "flow.compute"),
        "harfuse.modalities.imu": ("media.frames", "media.audio", "flow.compute"),
        "harfuse.modalities.skeleton": ("media.audio", "media.imu", "flow.compute"),
    }
    for stage, foreign in others.items():
        reached = closure(stage) & {f"harfuse.{m}" for m in foreign}
        assert not reached, f"{stage} depends on {sorted(reached)}"
    assert "harfuse.modalities.registry" not in closure("harfuse.stages.sample_files")


#: the most lines a function in src/ may span, signature and docstring included
MAX_FUNCTION_LINES = 60


def test_no_function_in_the_package_is_over_60_lines():
    long = []
    for m in modules():
        tree = ast.parse(module_path(m).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{m}.{node.name}: {lines} lines")
    assert not long, "split these: " + "; ".join(long)
