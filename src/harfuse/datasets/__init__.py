"""Dataset adapters: one per on-disk layout, each turning a root folder into manifest rows.

An adapter is ``scan(root, **options) -> Scan``; :data:`LAYOUTS` maps the
``dataset.layout`` config value to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd


@dataclass
class Scan:
    """What an adapter found: manifest rows (without ``shard``), split names, class names,
    and quarantine rows for entries it could not use."""

    samples: pd.DataFrame
    splits: list[str]
    classes: list[str]
    quarantine: list[dict[str, str]] = field(default_factory=list)


class LayoutError(FileNotFoundError):
    """The dataset root does not have the expected layout; says what is missing where."""


def _scan_demo(root: Path) -> Scan:
    from harfuse.datasets.demo import scan

    return scan(root)


LAYOUTS: dict[str, Callable[[Path], Scan]] = {"demo": _scan_demo}


def scan_dataset(root: str | Path, layout: str) -> Scan:
    """Run the adapter for ``layout`` on ``root``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; known: {sorted(LAYOUTS)}")
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"dataset root {root} is not a folder")
    return LAYOUTS[layout](root)
