from harfuse.provenance import code_version, imported_modules


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
