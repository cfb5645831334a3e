"""Classifiers over one or several modalities: single, mid fusion, late fusion."""

from harfuse.fusion.models import MODELS, create_model

__all__ = ["MODELS", "create_model"]
