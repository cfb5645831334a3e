"""Encoders: frozen pretrained backbones and the trainable per-modality encoders.

``create_encoder(name, **kw)`` builds any of them; every encoder is an ``nn.Module`` with
an ``out_dim`` attribute (the feature size D it returns). Both are imported on first use,
so that :mod:`harfuse.encoders.backbones` (shapes, as data) is read without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from harfuse.encoders.registry import ENCODERS, create_encoder

__all__ = ["ENCODERS", "create_encoder"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from harfuse.encoders import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
