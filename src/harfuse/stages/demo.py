"""Stage ``demo``: generate the embedded demo dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.datasets.demo import DemoSpec, generate_demo


def run(out_dir: str | Path, params: dict[str, Any]) -> None:
    """Write the demo dataset described by the ``demo:`` config slice into ``out_dir``."""
    generate_demo(out_dir, DemoSpec(**params))
