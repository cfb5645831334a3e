"""Shared fixtures: a tiny demo dataset generated once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from harfuse.datasets.demo import DemoSpec, generate_demo

REPO = Path(__file__).resolve().parents[1]
#: 2 subjects x 6 actions x 1 trial = 12 samples; s1 trains, s2 tests
TINY_DEMO = DemoSpec(seed=3, subjects=2, trials=1, size=48)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_demo(tmp_path_factory.mktemp("demo") / "demo", TINY_DEMO)
