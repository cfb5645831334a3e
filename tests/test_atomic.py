import json

import pytest

from harfuse.store.atomic import atomic_path, write_json


def test_atomic_path_renames_complete_file(tmp_path):
    final = tmp_path / "sub" / "out.txt"
    with atomic_path(final) as tmp:
        assert tmp.parent == final.parent and tmp != final
        tmp.write_text("data")
        assert not final.exists()  # nothing under the final name until the block ends
    assert final.read_text() == "data"
    assert [p.name for p in final.parent.iterdir()] == ["out.txt"]


def test_atomic_path_keeps_old_file_and_cleans_up_on_error(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_write_json_is_sorted_and_round_trips(tmp_path):
    write_json(tmp_path / "a.json", {"b": 1, "a": [1, 2]})
    text = (tmp_path / "a.json").read_text()
    assert text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1, 2], "b": 1}


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_are_as_readable_as_the_umask_allows(tmp_path, umask, mode):
    """A shard written with umask 022 is world-readable, like any tool's output."""
    import os
    import stat

    from harfuse.store.shards import ShardWriter

    before = os.umask(umask)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        with ShardWriter(tmp_path / "shard-0.h5", "frames", {}):
            pass
    finally:
        os.umask(before)
    for name in ("a.json", "shard-0.h5"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode, name
