"""Seeded, stratified subsets of a training split: validation carving, data-ratio sweeps,
and the classes a hidden-class experiment withholds."""

from __future__ import annotations

import numpy as np


def stratified_pick(labels: np.ndarray, fraction: float, seed: int, keep_one: bool) -> np.ndarray:
    """Boolean mask ``(N,)`` picking ``round(fraction * n_c)`` samples of each class ``c``
    at random (``seed``), at least one per class when ``fraction > 0``; with ``keep_one``,
    at most ``n_c - 1`` so that every class keeps a sample outside the pick."""
    rng = np.random.default_rng(seed)
    picked = np.zeros(len(labels), bool)
    if fraction <= 0:
        return picked
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        n = max(1, round(fraction * len(members)))
        if keep_one:
            n = min(n, len(members) - 1)
        picked[rng.permutation(members)[:n]] = True
    return picked


def ratio_pick(labels: np.ndarray, ratio: float, seed: int) -> np.ndarray:
    """The training rows an experiment of training-data ``ratio`` keeps, as a boolean mask
    ``(N,)`` over the training split's ``labels``: all of them at 1.0, else a stratified
    ``ratio`` (at least one per class). The train job and the check before work share it."""
    if ratio >= 1.0:
        return np.ones(len(labels), bool)
    return stratified_pick(labels, ratio, seed, False)


def hidden_classes(candidates: list[int], count: int, seed: int) -> list[int]:
    """``count`` of the class indices ``candidates`` drawn at random (``seed``), sorted."""
    candidates = sorted(set(candidates))
    if not 0 < count < len(candidates):
        raise ValueError(
            f"hidden classes: need 0 < count < {len(candidates)} (classes with training and "
            f"test samples), got {count}"
        )
    return sorted(np.random.default_rng(seed).choice(candidates, count, replace=False).tolist())
