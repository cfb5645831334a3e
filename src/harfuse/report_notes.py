"""The lines under the report's table: where each modality's input came from, the splits
left out, what the scan set aside, and the variants skipped (the workflow computes them
from the config and the manifest when it plans the report)."""

from __future__ import annotations

from typing import Any

from harfuse.modalities.registry import modality_notes
from harfuse.plan import variant_splits
from harfuse.smoke import SMOKE_NOTE


def report_notes(
    config: dict[str, Any], skipped: dict[str, str], manifest_attrs: dict[str, Any]
) -> list[str]:
    """The notes for a run of ``config``: ``skipped`` maps every variant to why it is
    skipped (``""``: it runs); ``manifest_attrs`` are the manifest's ``splits`` and
    ``notes``."""
    variants = config["train"]["variants"]
    runnable = {v: spec for v, spec in variants.items() if not skipped[v]}
    notes = [SMOKE_NOTE] if config["smoke"] else []
    notes += modality_notes(config, runnable)
    splits = manifest_attrs["splits"]
    run = {s for v in variants for s in variant_splits(config, v, splits)}
    left = [s for s in splits if s not in run]
    if left:
        why = "no variant's splits name them"
        if config["dataset"].get("splits"):
            why = "dataset.splits"
        if config["smoke"]:
            why = "smoke runs the first split"
        notes.append(f"{', '.join(left)} not run ({why})")
    notes += list(manifest_attrs.get("notes", []))
    return notes + [f"variant {v} {why}" for v, why in skipped.items() if why]
