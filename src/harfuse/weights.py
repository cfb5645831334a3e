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


def weights_file(arch: str, weights: str) -> tuple[Path, str | None]:
    """Where the weights of ``arch`` must be: a named set's file in torch's hub cache
    (``$TORCH_HOME/hub/checkpoints/<file>``) with its download URL, or the given path
    (URL ``None``). Imports torchvision, not the model."""
    import torch
    import torchvision

    if weights not in NAMED:
        return Path(weights), None
    enum = torchvision.models.get_model_weights(arch)
    try:
        entry = enum[NAMED[weights]]
    except KeyError:
        raise ValueError(f"{arch} has no {weights} weights in torchvision") from None
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(entry.url).name, entry.url


def missing_weights(
    arch: str,
    weights: str,
    allow_download: bool = False,
    allow_key: str = "features.allow_download",
) -> str | None:
    """Why the weights of ``arch`` cannot be loaded, with the ways out, or ``None`` when
    they can (``none``, a file present, or a named set with ``allow_download``, the config
    key ``allow_key``). A name torchvision does not have for ``arch`` is a reason too."""
    if weights == "none":
        return None
    try:
        path, url = weights_file(arch, weights)
    except ValueError as err:  # torchvision has no such model, or no such weights for it
        return str(err)
    if path.is_file() or (url is not None and allow_download):
        return None
    if url is None:
        return (
            f"weights for {arch} not found: {path}; fix the path, or set weights: none "
            "(random init)"
        )
    return (
        f"{arch} {weights} weights not found at {path}: either download {url} on a "
        f"machine with internet and copy it there, or set {allow_key}: true "
        "(a machine online), or set weights: none (random init)"
    )


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

    if weights == "none":
        return None
    path, url = weights_file(arch, weights)  # ValueError for a name torchvision lacks
    problem = missing_weights(arch, weights, allow_download)
    if problem:
        raise WeightsNotFoundError(problem)
    if not path.is_file():  # a named set, allow_download
        log.info("weights: downloading %s into %s (allow_download)", url, path.parent)
        return torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False)
    log.info("weights: %s <- %s", arch, path)
    return torch.load(path, map_location="cpu", weights_only=True)
