"""Speed ratios that hold on a shared, noisy machine: interleaved, repeated, median.

A ratio of two timings taken minutes apart measures the machine's load as much as the
code. ``interleaved`` runs the compared callables in turn, round after round, in the
given order on even rounds and reversed on odd ones (A B, B A, A B, ...), so each
round's timings see the same load and no callable always runs first or next to the same
one; ``Ratio`` is the median of the per-round ratios with their min and max.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


def interleaved(
    runs: Mapping[str, Callable[[], object]], rounds: int = 3
) -> dict[str, list[float]]:
    """Seconds of each callable per round, ``rounds`` rounds, each round running every
    callable once: in the given order on even rounds, reversed on odd rounds."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    names = list(runs)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            runs[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


@dataclass(frozen=True)
class Ratio:
    """Median, min and max over rounds of a per-round ratio."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, numerator: list[float], denominator: list[float]) -> Ratio:
        """Per-round ``numerator[r] / denominator[r]``, summarised."""
        if len(numerator) != len(denominator) or not numerator:
            raise ValueError("need the same number (>= 1) of rounds on both sides")
        ratios = [n / d for n, d in zip(numerator, denominator, strict=True)]
        return cls(statistics.median(ratios), min(ratios), max(ratios))

    def __str__(self) -> str:
        return f"{self.median:.2f} (min {self.low:.2f}, max {self.high:.2f})"


def rate(count: float, seconds: list[float]) -> float:
    """Items per second at the median round."""
    return count / statistics.median(seconds)
