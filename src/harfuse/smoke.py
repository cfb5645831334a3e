"""``smoke: true``: any config tried end to end on a CPU in minutes.

A recipe is sized for a GPU and published weights. The smoke switch keeps its stages,
variants and experiments (every rule runs) and shrinks what they cost: no pretrained
weights (nothing to fetch), 32 x 32 px clips of 2 frames for every frozen encoder and
fine-tuned backbone (S3D, which takes nothing under 13 x 224 x 224 and trains at 0.2
clips/s on a CPU core, becomes R3D-18 tuned at the same depth), frames at 4 fps and 32
px, one epoch, no DataLoader workers, the first split only, one hidden class and no ratio
sweep. Its figures test the pipeline on your data, not the method: the report says so.
"""

from __future__ import annotations

import copy
from typing import Any

#: S3D block -> the R3D-18 stage at the same depth
S3D_AS_R3D = {"Mixed_4c": "layer3", "Mixed_5c": "layer4"}
#: what the report says of a smoke run
SMOKE_NOTE = (
    "smoke run (smoke: true, harfuse.smoke): toy sizes, no pretrained weights, 1 epoch, "
    "the first split only, no ratio sweep; the figures test the pipeline, not the method"
)


def backbones(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Every variant's ``options.backbone`` (the same dict may be named twice)."""
    return [
        spec["options"]["backbone"]
        for spec in config["train"]["variants"].values()
        if "backbone" in (spec.get("options") or {})
    ]


def smoke_config(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (validated, defaults filled) as a smoke run takes it; a copy."""
    out = copy.deepcopy(config)
    for spec in out["features"]["sets"].values():
        encoder = "r3d_18" if spec["encoder"] == "s3d" else spec["encoder"]
        spec.update(encoder=encoder, weights="none", input_size=[32, 32])
        spec["num_frames"] = min(spec["num_frames"], 2)
    for backbone in backbones(out):
        if backbone["arch"] == "s3d":
            blocks = backbone.get("blocks", "all")
            if isinstance(blocks, list):
                blocks = [S3D_AS_R3D.get(b, b) for b in blocks]
            backbone.update(arch="r3d_18", blocks=blocks)
        if not backbone.get("init_from"):
            backbone["weights"] = "none"
        backbone.update(num_frames=min(backbone.get("num_frames", 2), 2), input_size=[32, 32])
    out["frames"].update(fps=4.0, size=32)
    out["audio"]["n_mels"] = 16
    out["train"]["params"].update(epochs=1, workers=0)
    for spec in out["train"]["variants"].values():
        _drop_epochs(spec.get("params") or {})
    out["train"]["inputs"].update(flow_length=2, flow_size=[32, 32], audio_frames=20)
    settings = out.setdefault("experiments", {})
    settings["ratios"] = []
    if settings.get("hidden_classes"):
        settings["hidden_classes"] = 1
    return out


def _drop_epochs(params: dict[str, Any]) -> None:
    """Remove ``epochs`` from a variant's ``params`` and its phases' (``stage1: {rgb:
    {...}}``), in place, so that train.params' 1 applies."""
    params.pop("epochs", None)
    for value in params.values():
        if isinstance(value, dict):
            _drop_epochs(value)
