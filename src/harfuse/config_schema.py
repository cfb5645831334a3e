"""The config schema: the one place where every config key's default and allowed values live.

``config.schema.yaml`` (beside this module, shipped with the package) is what the workflow
validates a config against, filling in the defaults of missing keys. The dataclasses that
take a config section (``AudioParams``, ``IMUParams``, ``TrainParams``, ...) read their
defaults from it through ``default()``, so a default is written once.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Iterable
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")


@functools.cache
def schema() -> dict[str, Any]:
    """The parsed schema (read once per process)."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text(encoding="utf-8"))


def node(*keys: str) -> dict[str, Any]:
    """The schema of config key ``keys`` (e.g. ``node("audio", "hop_length")``; ``"*"``
    stands for any name of a map such as ``train.variants``)."""
    current = schema()
    for i, key in enumerate(keys):
        props = current.get("properties", {})
        if key == "*" and isinstance(current.get("additionalProperties"), dict):
            current = current["additionalProperties"]
            continue
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


def filled(values: dict[str, Any] | None, *keys: str) -> dict[str, Any]:
    """A copy of config section ``keys`` (e.g. ``filled(cfg, "flow")``) with the schema's
    default of every missing key set, recursively: what validation gives a whole config,
    for a section that did not pass through it (a shard's recorded parameters, a test's
    hand-written section). Code then indexes keys, never repeating a default."""
    out = copy.deepcopy(dict(values or {}))
    fill_defaults(out, node(*keys))
    return out


class ConfigError(ValueError):
    """A config the workflow cannot run: one line per problem, each naming the key (or
    file) and what to do."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest of ``choices``, or ``""``."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _key_path(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _problem(error: Any) -> list[str]:
    """One line per leaf problem of a ``jsonschema`` error."""
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        extra = [k for k in error.instance if k not in allowed]
        return [
            f"{_key_path([*error.absolute_path, k])}: unknown key{did_you_mean(k, allowed)}"
            f" (allowed: {', '.join(allowed)})"
            for k in extra
        ]
    if error.validator == "enum":
        choices = error.validator_value
        return [
            f"{where}: {error.instance!r} is not one of {', '.join(map(str, choices))}"
            f"{did_you_mean(str(error.instance), choices)}"
        ]
    if error.validator == "required":
        return [f"{where}: {error.message.replace(' is a required property', '')} is required"]
    if error.validator in ("oneOf", "anyOf") and error.context:
        # the alternative that got furthest is the one the user meant
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _problem(deepest)
        kinds = [s.get("type", "?") for s in error.validator_value]
        return [f"{where}: {error.instance!r} is none of: {', '.join(map(str, kinds))}"]
    hint = ""
    if error.validator == "type" and isinstance(error.instance, str):
        try:
            float(error.instance)
            hint = f" (YAML reads {error.instance} as text: write it with a dot, e.g. 1.0e-4)"
        except ValueError:
            pass
    return [f"{where}: {error.message}{hint}"]


def fill_defaults(instance: Any, schema_node: dict[str, Any]) -> None:
    """Set the schema's default of every missing key, recursively (in place; copies, so
    no two configs share a default's list or dict)."""
    if isinstance(instance, dict):
        props = schema_node.get("properties", {})
        for key, sub in props.items():
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance:
                fill_defaults(instance[key], sub)
        extra = schema_node.get("additionalProperties")
        if isinstance(extra, dict):
            for key in instance:
                if key not in props:
                    fill_defaults(instance[key], extra)
    elif isinstance(instance, list) and isinstance(schema_node.get("items"), dict):
        for item in instance:
            fill_defaults(item, schema_node["items"])


def validate(config: dict[str, Any], schema_path: str | Path = SCHEMA_PATH) -> None:
    """Check ``config`` against the schema at ``schema_path`` and fill in its defaults.

    Raises :class:`ConfigError` with one line per problem: the key path, what is wrong,
    and for a misspelt key or value the closest valid one.
    """
    import yaml
    from jsonschema import Draft202012Validator

    spec = yaml.safe_load(Path(schema_path).read_text(encoding="utf-8"))
    errors = sorted(
        Draft202012Validator(spec).iter_errors(config), key=lambda e: list(map(str, e.path))
    )
    lines = [line for error in errors for line in _problem(error)]
    if lines:
        raise ConfigError("\n".join(dict.fromkeys(lines)))
    fill_defaults(config, spec)
