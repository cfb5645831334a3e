import ast
from pathlib import Path

import harfuse
from harfuse.provenance import _modules_in, code_version, imported_modules


def write_package(root, files):
    root.mkdir(exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)


def test_imported_modules_lists_harfuse_modules_and_parents():
    source = "import os\nimport harfuse.store.shards\nfrom harfuse.flow import compute_flow\n"
    assert imported_modules(source) == {
        "harfuse",
        "harfuse.store",
        "harfuse.store.shards",
        "harfuse.flow",
        "harfuse.flow.compute_flow",
    }


def test_the_import_scan_finds_what_parsing_the_whole_module_finds():
    """Only the lines starting like a harfuse import are parsed: the same modules as the
    whole module's syntax tree gives, for every module of the package and for imports
    inside functions, parenthesised over lines, continued with a backslash or after a
    docstring that merely reads like one (the whole module is parsed then)."""
    for path in Path(harfuse.__file__).parent.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        assert imported_modules(source) == _modules_in(ast.parse(source)), path
    source = (
        '"""Says\n    from harfuse.a import (\nthen prose, not Python."""\n'
        "def f():\n"
        "    from harfuse.flow import (  # a comment (with parentheses)\n"
        "        compute,\n"
        "        tvl1,\n"
        "    )\n"
        "    import harfuse.store.shards, \\\n"
        "        harfuse.report\n"
    )
    assert (
        imported_modules(source)
        == _modules_in(ast.parse(source))
        == {
            "harfuse",
            "harfuse.flow",
            "harfuse.flow.compute",
            "harfuse.flow.tvl1",
            "harfuse.store",
            "harfuse.store.shards",
            "harfuse.report",
        }
    )


def test_code_version_follows_transitive_imports_only(tmp_path):
    root = tmp_path / "harfuse"
    write_package(
        root,
        {
            "__init__.py": "",
            "stage.py": "from harfuse.work import run\n",
            "work.py": "import harfuse.deep\n\ndef run(): pass\n",
            "deep.py": "X = 1\n",
            "other.py": "Y = 1\n",
        },
    )
    before = code_version("harfuse.stage", root)
    assert code_version("harfuse.stage", root) == before  # stable
    (root / "other.py").write_text("Y = 2\n")
    assert code_version("harfuse.stage", root) == before  # unrelated module
    (root / "deep.py").write_text("X = 2\n")
    assert code_version("harfuse.stage", root) != before  # transitive dependency


def test_real_stages_have_distinct_versions():
    versions = {s: code_version(f"harfuse.stages.{s}") for s in ("frames", "flow", "train")}
    assert len(set(versions.values())) == 3
    assert all(len(v) == 12 for v in versions.values())
