"""Report figures (matplotlib, Agg backend): each function writes one PNG atomically."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from harfuse.store.atomic import atomic_path


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _grid(n: int, size: float) -> tuple[plt.Figure, np.ndarray]:
    cols = min(4, max(n, 1))
    rows = math.ceil(max(n, 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def _empty(path: str | Path, message: str) -> None:
    fig, ax = plt.subplots(figsize=(5, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center")
    fig.tight_layout()
    _save(fig, path)


#: above this many classes a confusion matrix writes only its non-zero counts
ALL_COUNTS_UP_TO = 20


def confusion_matrices(runs: Sequence[dict], classes: Sequence[str], path: str | Path) -> None:
    """One confusion matrix per run (``runs``: metrics dicts with ``variant``, ``split``
    and ``confusion``, counts ``(K, K)``, rows = true class), in a grid: the colour is the
    row-normalised share of the true class, the number in a cell its count of test samples
    (zeros left blank above :data:`ALL_COUNTS_UP_TO` classes)."""
    if not runs:
        return _empty(path, "no runs")
    k = len(classes)
    size = min(8.0, max(3.2, 0.25 * k + 1))  # inches per matrix: cells stay legible
    fontsize = float(np.clip(0.4 * 72 * 0.75 * size / max(k, 1), 3, 9))
    fig, axes = _grid(len(runs), size)
    ticks = range(k)
    for ax, run in zip(axes, runs, strict=False):
        cm = np.asarray(run["confusion"], np.int64)
        share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
        ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
        for (i, j), n in np.ndenumerate(cm):
            if n or k <= ALL_COUNTS_UP_TO:
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, str(n), ha="center", va="center", fontsize=fontsize, color=colour)
        ax.set_title(f"{run['variant']} ({run['split']}), n = {cm.sum()}", fontsize=9)
        ax.set_xticks(ticks, classes, rotation=90, fontsize=6)
        ax.set_yticks(ticks, classes, fontsize=6)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    fig.tight_layout()
    fig.suptitle(  # above the grid (the saved bounding box takes it in)
        "colour: share of the true class (row-normalised); numbers: test samples",
        fontsize=9,
        y=1.0,
        va="bottom",
    )
    _save(fig, path)


def variant_bars(aggregate: pd.DataFrame, path: str | Path) -> None:
    """Top-1 of each variant's main runs: mean over splits, error bars = std."""
    if aggregate.empty:
        return _empty(path, "no runs")
    df = aggregate.sort_values("top1_mean")
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(df) + 1))
    ax.barh(df["variant"], df["top1_mean"], xerr=df["top1_std"].fillna(0), capsize=3)
    ax.set_xlim(0, 1)
    ax.set_xlabel("top-1 accuracy (mean ± std over splits)")
    fig.tight_layout()
    _save(fig, path)


def learning_curves(runs: Sequence[dict], path: str | Path) -> None:
    """Training and validation loss per epoch of each run (phases one after the other)."""
    if not runs:
        return _empty(path, "no runs")
    fig, axes = _grid(len(runs), 3.2)
    for ax, run in zip(axes, runs, strict=False):
        history = pd.DataFrame(run["history"])
        x = np.arange(1, len(history) + 1)
        ax.plot(x, history["train_loss"], marker=".", label="train loss")
        if history["val_loss"].notna().any():
            ax.plot(x, history["val_loss"], marker=".", label="validation loss")
        for boundary in np.flatnonzero(history["phase"].ne(history["phase"].shift()))[1:]:
            ax.axvline(boundary + 0.5, color="grey", lw=0.8, ls=":")
        ax.set_title(f"{run['variant']} ({run['split']})", fontsize=9)
        ax.set_xlabel("epoch", fontsize=7)
        ax.legend(fontsize=6)
    fig.tight_layout()
    _save(fig, path)


def ratio_sweep(table: pd.DataFrame, path: str | Path) -> bool:
    """Top-1 against the fraction of training data, one line per swept variant
    (``table``: summary rows with a ``ratio`` column; mean over splits). Writes nothing and
    returns False when no variant was swept."""
    swept = table.dropna(subset=["ratio"])
    swept = swept[swept.groupby("variant")["ratio"].transform("nunique") > 1]
    if swept.empty:
        return False
    fig, ax = plt.subplots(figsize=(6, 4))
    for variant, rows in swept.groupby("variant"):
        curve = rows.groupby("ratio")["top1"].agg(["mean", "std"]).reset_index()
        ax.errorbar(
            100 * curve["ratio"],
            curve["mean"],
            yerr=curve["std"].fillna(0),
            marker="o",
            capsize=3,
            label=variant,
        )
    ax.set_xlabel("training data used (%)")
    ax.set_ylabel("top-1 accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)
    return True
