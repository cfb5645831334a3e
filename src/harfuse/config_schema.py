"""The config schema: the one place where every config key's default and allowed values live.

``config.schema.yaml`` (beside this module, shipped with the package) is what the workflow
validates a config against, filling in the defaults of missing keys. The dataclasses that
take a config section (``AudioParams``, ``IMUParams``, ``TrainParams``, ...) read their
defaults from it through ``default()``, so a default is written once.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed schema (read once per process)."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def node(*keys: str) -> dict[str, Any]:
    """The schema of config key ``keys`` (e.g. ``node("audio", "hop_length")``)."""
    current = schema()
    for i, key in enumerate(keys):
        props = current.get("properties", {})
        if key not in props:
            raise KeyError(f"{SCHEMA_PATH.name} has no key {'.'.join(keys[: i + 1])}")
        current = props[key]
    return current


def default(*keys: str) -> Any:
    """The schema's default of config key ``keys``; KeyError when it has none."""
    found = node(*keys)
    if "default" not in found:
        raise KeyError(f"{SCHEMA_PATH.name}: {'.'.join(keys)} has no default")
    return found["default"]
