"""Dense optical flow between consecutive frames, and its uint8 storage format."""

from harfuse.flow.compute import compute_flow
from harfuse.flow.quantize import dequantize, quantize

__all__ = ["compute_flow", "dequantize", "quantize"]
