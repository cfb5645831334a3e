"""Encoders: frozen pretrained backbones and the trainable per-modality encoders.

``create_encoder(name, **kw)`` builds any of them; every encoder is an ``nn.Module`` with
an ``out_dim`` attribute (the feature size D it returns).
"""

from harfuse.encoders.registry import ENCODERS, create_encoder

__all__ = ["ENCODERS", "create_encoder"]
