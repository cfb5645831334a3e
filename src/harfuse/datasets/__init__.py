"""Dataset adapters: one module per on-disk layout, each turning a root folder into
manifest rows with the official splits, and writing a miniature copy of the layout for
tests (``write_fixture``; the demo's generator is its own fixture).

``scan_dataset(root, layout, **options)`` runs the adapter named by ``dataset.layout``.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harfuse.config_schema import ConfigError, did_you_mean
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


def option_problems(layout: str, options: dict[str, Any]) -> list[str]:
    """One line per ``dataset.options`` key that the ``layout`` adapter does not take,
    naming the closest valid option and listing all of them."""
    valid = [p for p in inspect.signature(adapter(layout).scan).parameters if p != "root"]
    listed = ", ".join(valid) or "none"
    return [
        f"dataset.options.{key}: not an option of the {layout} layout"
        f"{did_you_mean(key, valid)} (options: {listed})"
        for key in options
        if key not in valid
    ]


def check_dataset(root: str | Path, layout: str, options: dict[str, Any]) -> None:
    """Check, without reading any media, that ``root`` has the ``layout`` (the adapter's
    ``check_root`` with the options ``scan`` would get): :class:`LayoutError` naming what
    is missing where, or :class:`ConfigError` for unknown options."""
    problems = option_problems(layout, options)
    if problems:
        raise ConfigError("\n".join(problems))
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(
            f"dataset.root: {root} is not a folder ({layout} layout); point it at your copy"
        )
    module = adapter(layout)
    bound = inspect.signature(module.scan).bind(root, **options)
    bound.apply_defaults()
    wanted = inspect.signature(module.check_root).parameters
    module.check_root(**{k: v for k, v in bound.arguments.items() if k in wanted})


def scan_dataset(root: str | Path, layout: str, **options: Any) -> Scan:
    """Run the adapter for ``layout`` on ``root`` with its ``options``; :class:`LayoutError`
    when the root is not a folder or holds no sample of the layout."""
    module = adapter(layout)
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"dataset root {root} is not a folder ({layout} layout)")
    found = module.scan(root, **options)
    if found.samples.empty:
        raise LayoutError(
            f"no usable sample under {root} ({layout} layout; "
            f"{len(found.quarantine)} entries rejected, see the quarantine table)"
        )
    return found


__all__ = ["LAYOUTS", "LayoutError", "Scan", "adapter", "check_dataset", "scan_dataset"]
