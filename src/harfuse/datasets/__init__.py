"""Dataset adapters: one module per on-disk layout, each turning a root folder into
manifest rows with the official splits, and writing a miniature copy of the layout for
tests (``write_fixture``; the demo's generator is its own fixture).

``scan_dataset(root, layout, **options)`` runs the adapter named by ``dataset.layout``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harfuse.datasets.common import LayoutError

#: ``dataset.layout`` value -> adapter module under ``harfuse.datasets``
LAYOUTS = {
    "demo": "demo",
    "ucf101": "ucf101",
    "ucf51": "ucf51",
    "hmdb51": "hmdb51",
    "utd_mhad": "utd_mhad",
    "mmact": "mmact",
    "image_csv": "image_csv",
    "folder": "folder",
}


@dataclass
class Scan:
    """What an adapter found: manifest rows (without ``shard``), split names, class names,
    and quarantine rows for entries it could not use."""

    samples: pd.DataFrame
    splits: list[str]
    classes: list[str]
    quarantine: list[dict[str, str]] = field(default_factory=list)


def adapter(layout: str):
    """The adapter module of ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; known: {sorted(LAYOUTS)}")
    return importlib.import_module(f"harfuse.datasets.{LAYOUTS[layout]}")


def scan_dataset(root: str | Path, layout: str, **options: Any) -> Scan:
    """Run the adapter for ``layout`` on ``root`` with its ``options``."""
    module = adapter(layout)
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"dataset root {root} is not a folder ({layout} layout)")
    return module.scan(root, **options)


__all__ = ["LAYOUTS", "LayoutError", "Scan", "adapter", "scan_dataset"]
