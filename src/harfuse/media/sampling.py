"""Temporal sampling helpers shared by every modality."""

from __future__ import annotations

import numpy as np


def uniform_indices(length: int, n: int) -> np.ndarray:
    """``n`` indices spread uniformly over ``range(length)`` (repeats when ``length < n``).

    Index ``i`` is the centre of the ``i``-th of ``n`` equal segments, as in TSN-style
    uniform sampling; the result is deterministic.
    """
    if length <= 0:
        raise ValueError(f"cannot sample {n} steps from an empty sequence")
    centres = (np.arange(n) + 0.5) * length / n
    return np.minimum(centres.astype(np.int64), length - 1)


def pad_or_truncate(x: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """Fit ``x`` ``(T, ...)`` to ``(length, ...)``: zero-pad at the end or cut the end.

    Returns the fitted array and the number of valid (non-padding) steps.
    """
    valid = min(len(x), length)
    out = np.zeros((length, *x.shape[1:]), dtype=x.dtype)
    out[:valid] = x[:valid]
    return out, valid
