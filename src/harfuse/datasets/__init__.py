"""Dataset adapters: one module per on-disk layout, each turning a root folder into
manifest rows with the official splits, and writing a miniature copy of the layout for
tests (``write_fixture``; the demo's generator is its own fixture).

``scan_dataset(root, layout, classes, **options)`` runs the adapter named by
``dataset.layout`` and keeps the class subset ``dataset.classes`` (:func:`select_classes`).
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harfuse.config_schema import ConfigError, did_you_mean
from harfuse.datasets.common import LayoutError

log = logging.getLogger(__name__)

#: ``dataset.layout`` value -> adapter module under ``harfuse.datasets``
LAYOUTS = {
    "demo": "demo",
    "ucf101": "ucf101",
    "ucf51": "ucf51",
    "hmdb51": "hmdb51",
    "utd_mhad": "utd_mhad",
    "mmact": "mmact",
    "ntu_rgbd": "ntu_rgbd",
    "image_csv": "image_csv",
    "folder": "folder",
    "kinetics": "kinetics",
}


@dataclass
class Scan:
    """What an adapter found: manifest rows (without ``shard``), split names, class names
    in the dataset's official index order, and quarantine rows for entries it could not
    use (``sample_id``, ``stage``, ``reason``, and ``label`` where the entry's class is
    known, so that a class subset leaves out the entries of the other classes)."""

    samples: pd.DataFrame
    splits: list[str]
    classes: list[str]
    quarantine: list[dict[str, str]] = field(default_factory=list)
    #: what the scan left out of the dataset and why (e.g. a split whose lists are
    #: absent); the manifest records them and the report repeats them
    notes: list[str] = field(default_factory=list)


def adapter_name(layout: str) -> str:
    """The module name of ``layout``'s adapter (its code version is the manifest's)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dataset layout {layout!r}; known: {sorted(LAYOUTS)}")
    return f"harfuse.datasets.{LAYOUTS[layout]}"


def adapter(layout: str):
    """The adapter module of ``layout``."""
    return importlib.import_module(adapter_name(layout))


def option_problems(layout: str, options: dict[str, Any]) -> list[str]:
    """One line per ``dataset.options`` key that the ``layout`` adapter does not take,
    naming the closest valid option and listing all of them."""
    valid = [p for p in inspect.signature(adapter(layout).scan).parameters if p != "root"]
    listed = ", ".join(valid) or "none"
    return [
        f"dataset.options.{key}: not an option of the {layout} layout"
        + (
            "; a class subset is dataset.classes (every layout)"
            if key == "classes"
            else did_you_mean(key, valid)
        )
        + f" (options: {listed})"
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


def absent_modalities(root: str | Path, layout: str, options: dict[str, Any]) -> dict[str, str]:
    """``{modality: why}`` for the modalities ``root`` cannot give that the layout tells
    without reading media (an optional folder absent: the adapter's own
    ``absent_modalities``); empty when it tells nothing or the root is not a folder."""
    module = adapter(layout)
    tell = getattr(module, "absent_modalities", None)
    if tell is None or not Path(root).is_dir():
        return {}
    bound = inspect.signature(module.scan).bind(Path(root), **options)
    bound.apply_defaults()
    wanted = inspect.signature(tell).parameters
    return tell(**{k: v for k, v in bound.arguments.items() if k in wanted})


def scan_dataset(
    root: str | Path, layout: str, classes: int | list[str] | None = None, **options: Any
) -> Scan:
    """Run the adapter for ``layout`` on ``root`` with its ``options`` and keep the class
    subset ``classes`` (``dataset.classes``, see :func:`select_classes`); :class:`LayoutError`
    when the root is not a folder or holds no sample of the layout (of those classes),
    :class:`ConfigError` when ``classes`` names a class the dataset lacks."""
    module = adapter(layout)
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"dataset root {root} is not a folder ({layout} layout)")
    found = select_classes(module.scan(root, **options), classes, f"the {layout} dataset at {root}")
    if found.samples.empty:
        of = f" of dataset.classes {found.classes}" if classes is not None else ""
        raise LayoutError(
            f"no usable sample{of} under {root} ({layout} layout; "
            f"{len(found.quarantine)} entries rejected, see the quarantine table)"
        )
    return found


def _class_list(classes: list[str], shown: int = 12) -> str:
    """``"N classes: a, b, ..."`` with at most ``shown`` names."""
    more = f", ... ({len(classes) - shown} more)" if len(classes) > shown else ""
    return f"{len(classes)} classes: {', '.join(classes[:shown])}{more}"


#: fewer than this fraction of a layout's classes with samples: the note suggests
#: dataset.classes
FEW_CLASSES = 0.5


def present_classes(found: Scan) -> Scan:
    """``found`` with only the classes that have a sample (official order kept,
    ``label_idx`` re-indexed): a model is K-way over the classes it can see, not over every
    class the layout defines (an NTU RGB+D copy of 2 actions gives a 2-way model, not a
    60-way one). A note says when classes were left out, and suggests ``dataset.classes``
    when most were."""
    labels = set(found.samples["label"])
    chosen = [c for c in found.classes if c in labels]
    if len(chosen) == len(found.classes):
        return found
    left = len(found.classes) - len(chosen)
    note = (
        f"{len(chosen)} of the layout's {len(found.classes)} classes have samples; the "
        f"{left} without are left out (the models are {len(chosen)}-way)"
    )
    if len(chosen) < FEW_CLASSES * len(found.classes):
        note += (
            "; to say which classes a run is over, set dataset.classes (e.g. "
            f"[{', '.join(chosen[:3])}{', ...' if len(chosen) > 3 else ''}])"
        )
    log.info("%s", note)
    df = found.samples.copy()
    index = {c: i for i, c in enumerate(chosen)}
    labelled = df["label"] != ""
    df.loc[labelled, "label_idx"] = df.loc[labelled, "label"].map(index)
    df["label_idx"] = df["label_idx"].astype(found.samples["label_idx"].dtype)
    return Scan(df, found.splits, chosen, found.quarantine, [*found.notes, note])


def select_classes(found: Scan, wanted: int | list[str] | None, where: str = "the dataset") -> Scan:
    """``found`` restricted to a class subset: ``wanted`` = class names, or ``N`` = the first
    ``N`` of ``found.classes`` (the official index, e.g. UCF101's ``classInd.txt``); ``None``
    = every class that has a sample (:func:`present_classes`). Classes stay in official
    index order whatever the order of the names, and ``label_idx`` is re-indexed
    ``0..K-1`` in that order; split columns are untouched.

    Samples of the other classes (and unlabelled ones) are left out, not quarantined: they
    are not part of this dataset variant. Quarantine rows of the other classes (those with
    another ``label``, or about a left-out sample) are left out too.

    :class:`ConfigError` naming each class ``found`` lacks (``where``: the dataset, for the
    message), with the closest name, or when ``N`` exceeds the number of classes.
    """
    if wanted is None:
        return present_classes(found)
    chosen = chosen_classes(found, wanted, where)
    df = found.samples
    keep = df["label"].isin(chosen)
    samples = df[keep].reset_index(drop=True)
    index = {c: i for i, c in enumerate(chosen)}
    samples["label_idx"] = samples["label"].map(index).astype(df["label_idx"].dtype)
    left_out = set(df.loc[~keep, "sample_id"])
    quarantine = [
        q
        for q in found.quarantine
        if (q["label"] in index if q.get("label") else q["sample_id"] not in left_out)
    ]
    unlabelled = int(df.loc[~keep, "label"].eq("").sum())
    log.info(
        "dataset.classes: %d of %d classes (%s); %d of %d samples kept, %d of other classes"
        "%s left out (not part of this dataset variant, not quarantined); %d of %d "
        "quarantine rows of other classes left out",
        len(chosen),
        len(found.classes),
        ", ".join(chosen),
        len(samples),
        len(df),
        len(df) - len(samples) - unlabelled,
        f" and {unlabelled} unlabelled" if unlabelled else "",
        len(found.quarantine) - len(quarantine),
        len(found.quarantine),
    )
    empty = sorted(set(chosen) - set(samples["label"]), key=chosen.index)
    if empty:
        log.warning("dataset.classes: no sample of %s", ", ".join(empty))
    more = f", ... ({len(chosen) - 12} more)" if len(chosen) > 12 else ""
    note = (
        f"dataset.classes keeps {len(chosen)} of the dataset's {len(found.classes)} classes: "
        f"{', '.join(chosen[:12])}{more}"
    )
    return Scan(samples, found.splits, chosen, quarantine, [*found.notes, note])


def chosen_classes(found: Scan, wanted: int | list[str], where: str) -> list[str]:
    """The classes ``dataset.classes`` (``wanted``) names among ``found``'s, in official
    order; :class:`ConfigError` as :func:`select_classes` says."""
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if not 1 <= wanted <= len(found.classes):
            raise ConfigError(
                f"dataset.classes: the first {wanted} classes, but {where} has "
                f"{len(found.classes)}: set it to 1..{len(found.classes)}, or to null for all"
            )
        return found.classes[:wanted]
    problems = []
    for name in wanted:
        if name in found.classes:
            continue
        dropped = [q["reason"] for q in found.quarantine if q.get("label") == name]
        problems.append(
            f"dataset.classes: {name!r} is not a class of {where}"
            f"{did_you_mean(name, found.classes)}"
            + (f"; quarantined by the scan: {dropped[0]}" if dropped else "")
            + f" ({_class_list(found.classes)})"
        )
    if problems:
        raise ConfigError("\n".join(problems))
    return [c for c in found.classes if c in set(wanted)]


__all__ = [
    "LAYOUTS",
    "LayoutError",
    "Scan",
    "absent_modalities",
    "adapter",
    "check_dataset",
    "scan_dataset",
    "select_classes",
]
