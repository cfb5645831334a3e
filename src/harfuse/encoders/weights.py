"""Pretrained weights from a local file or torch's cache; never a download at run time."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: weights names accepted in config besides a path; ``none`` means random init.
NAMED = {"imagenet": "IMAGENET1K_V1", "kinetics400": "KINETICS400_V1"}


class WeightsNotFoundError(FileNotFoundError):
    """A named or given weights file is absent; the message says which file to put where."""


def describe(weights: str) -> str:
    """Label for outputs, e.g. ``"none (random init)"`` or ``"imagenet"``."""
    return "none (random init)" if weights == "none" else weights


def resolve_state_dict(
    arch: str, weights: str, allow_download: bool = False
) -> dict[str, Any] | None:
    """The state dict for torchvision model ``arch`` and ``weights``, or ``None`` for
    ``weights: none``.

    ``weights`` is ``none``, a name in :data:`NAMED` (looked up in torch's hub cache,
    ``$TORCH_HOME/hub/checkpoints/<file>``) or a path to a ``.pth`` file. A missing named
    file is downloaded into that cache only with ``allow_download`` (``features.
    allow_download``, for online machines); otherwise the error says what to put where.
    """
    import torch
    import torchvision

    if weights == "none":
        return None
    if weights in NAMED:
        enum = torchvision.models.get_model_weights(arch)
        try:
            entry = enum[NAMED[weights]]
        except KeyError:
            raise ValueError(f"{arch} has no {weights} weights in torchvision") from None
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name
        hint = f"download {entry.url} on a machine with internet and copy it to {path}"
    else:
        path = Path(weights)
        hint = "check the weights: path in the config"
    if not path.is_file() and allow_download and weights in NAMED:
        log.info("weights: downloading %s into %s (allow_download)", entry.url, path.parent)
        return torch.hub.load_state_dict_from_url(entry.url, map_location="cpu", progress=False)
    if not path.is_file():
        raise WeightsNotFoundError(f"weights for {arch} ({weights}) not found: {path} ({hint})")
    log.info("weights: %s <- %s", arch, path)
    return torch.load(path, map_location="cpu", weights_only=True)
