"""The parse-time model check's memo: kept answers are read back, a change of the code,
the packages or the inputs is another key, and a memo that cannot be written is no error."""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from harfuse import check_memo, preflight
from harfuse.check_memo import memo_key, recall, remember
from harfuse.config_schema import validate
from harfuse.weights import WeightsNotFoundError

from .helpers import REPO


@pytest.fixture
def memo(tmp_path, monkeypatch):
    """An empty memo folder; the process's remembered code versions and checks forgotten."""
    monkeypatch.setenv(check_memo.CACHE_ENV, str(tmp_path / "memo"))
    monkeypatch.setattr(preflight, "_CHECKED", {})
    check_memo._made_by.cache_clear()
    yield tmp_path / "memo"
    check_memo._made_by.cache_clear()


def demo_config() -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    validate(cfg)  # fills the defaults in place
    return cfg


def test_an_answer_is_kept_and_read_back_whole(memo):
    key = memo_key({"a": [1, 2]}, ["harfuse.plan"], ["numpy"])
    assert recall("kind", key) is None
    remember("kind", key, {"problem": None, "n": 3})
    assert recall("kind", key) == {"problem": None, "n": 3}
    files = [p.relative_to(memo / "kind") for p in (memo / "kind").rglob("*") if p.is_file()]
    assert [str(f) for f in files] == [f"{key}.json"]  # no temporary left


def test_answers_of_old_code_are_pruned(memo, monkeypatch):
    versions = iter(range(100))
    monkeypatch.setattr(check_memo, "code_version", lambda module: f"{next(versions):012}")
    keys = []
    for i in range(check_memo.KEEP_VERSIONS + 3):
        check_memo._made_by.cache_clear()
        keys.append(memo_key({"a": 1}, ["harfuse.plan"], ["numpy"]))
        remember("kind", keys[-1], {"n": len(keys)})
        folder = memo / "kind" / keys[-1].split("/")[0]
        os.utime(folder, ns=(i * 10**9, i * 10**9))  # written one second apart
    assert len({k.split("/")[0] for k in keys}) == len(keys)  # one folder per code version
    kept = [k for k in keys if recall("kind", k) is not None]
    assert kept == keys[-check_memo.KEEP_VERSIONS :]


def test_the_code_the_packages_and_the_inputs_are_in_the_key(memo, monkeypatch):
    def key(inputs=None):
        check_memo._made_by.cache_clear()
        return memo_key(inputs or {"a": 1}, ["harfuse.plan"], ["numpy"])

    first = key()
    assert key() == first
    assert key({"a": 2}) != first
    monkeypatch.setattr(check_memo, "_version", lambda package: "0.0-other")
    assert key() != first
    monkeypatch.undo()
    monkeypatch.setattr(check_memo, "code_version", lambda module: "000000000000")
    assert key() != first


def test_off_keeps_nothing_and_an_unwritable_folder_is_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv(check_memo.CACHE_ENV, "off")
    assert check_memo.cache_dir() is None
    remember("kind", "k", {"x": 1})
    assert recall("kind", "k") is None
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(check_memo.CACHE_ENV, str(blocker / "memo"))
    remember("kind", "k", {"x": 1})  # mkdir fails: the check simply runs again next time
    assert recall("kind", "k") is None
    monkeypatch.delenv(check_memo.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert check_memo.cache_dir() == tmp_path / "xdg" / "harfuse"


def test_the_model_check_is_run_once_then_recalled_problems_included(memo, monkeypatch):
    cfg = demo_config()
    bad = copy.deepcopy(cfg)
    bad["train"]["variants"]["flow"]["options"] = {"encoders": {"flow": "flow_3dccn"}}
    ran = []
    real = preflight._run_model_check
    monkeypatch.setattr(preflight, "_run_model_check", lambda c, v: ran.append(v) or real(c, v))
    first = preflight.model_problems(bad)
    assert len(first) == 1 and "flow_3dccn" in first[0]
    assert sorted(ran) == sorted(bad["train"]["variants"])
    meta = preflight.check_model(bad, "late_meta")
    assert meta.problem is None and meta.needs_validation

    # another command: nothing built, the same answers, the bad variant's problem too
    monkeypatch.setattr(preflight, "_CHECKED", {})
    ran.clear()
    assert preflight.model_problems(bad) == first
    assert preflight.check_model(bad, "late_meta") == meta
    assert ran == []
    assert preflight.model_problems(cfg) == [] and ran == ["flow"]  # its options changed


def test_a_model_loading_weights_files_is_never_remembered_and_a_bad_file_is_a_miss(
    memo, monkeypatch
):
    cfg = demo_config()
    flow = {"name": "flow_resnet18", "weights": "/nowhere/flow.pth"}
    cfg["train"]["variants"]["flow"]["options"] = {"encoders": {"flow": flow}}
    ran = []
    real = preflight._run_model_check
    monkeypatch.setattr(preflight, "_run_model_check", lambda c, v: ran.append(v) or real(c, v))
    for _ in range(2):  # its answer depends on that file: checked each time, kept nowhere
        with pytest.raises(WeightsNotFoundError, match=r"/nowhere/flow\.pth"):
            preflight.check_model(cfg, "flow")
    assert ran == ["flow", "flow"] and not memo.exists()

    preflight.check_model(cfg, "imu")
    (kept,) = (memo / "model-check").rglob("*.json")
    for damaged in ("[1, 2]", '{"problem": null}', "not json"):
        kept.write_text(damaged)  # by hand, or by another version: run again, rewrite it
        monkeypatch.setattr(preflight, "_CHECKED", {})
        assert preflight.check_model(cfg, "imu").problem is None
        assert json.loads(kept.read_text()) == {"problem": None, "needs_validation": False}
    assert ran == ["flow", "flow", "imu", "imu", "imu", "imu"]
