"""What every modality declares (:class:`Modality`) and what it is handed (:class:`Context`).

A modality's data flow, which the workflow and ``harfuse predict`` share:

- ``stored(raw, prep, context)``: its raw input (a file path, or what a video decodes to)
  -> :data:`Stored`, the arrays and attributes its shard keeps per sample;
- ``model_input(stored, inputs)``: :data:`Stored` -> one sample's model input (no batch
  axis), fitted to the shape every sample of a run shares.

Training reads ``Stored`` back from the shards (:meth:`Modality.source`); prediction
computes it from the video; both then call the same ``model_input``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from harfuse.store.shards import SampleArrays

#: one sample as a shard stores it: ``{array name: (array, attrs)}``
Stored = SampleArrays
#: a training source: ``sample_id -> model input``, with ``in`` for the samples it has
Source = Callable[[str], np.ndarray]
#: the rule that writes the shards of the modalities made from each sample's own file
FILE_RULE = "extract_sample_files"


@dataclass(frozen=True)
class Context:
    """What a modality's ``stored`` needs besides its raw input and the preprocessing:
    the torch ``device``, the ``source`` file (for attributes and messages), the frames'
    rate ``fps`` (Hz), rgb's frozen ``encoder`` and fine-tuned ``backbone`` options."""

    device: str = "cpu"
    source: str = ""
    fps: float = 0.0
    encoder: Any = None
    backbone: dict[str, Any] | None = None


class Modality:
    """One model input modality; subclasses set the class attributes and override what
    differs. Every method takes the validated config (defaults filled)."""

    #: the name variants list in ``modalities`` and models key their inputs by
    name: ClassVar[str]
    #: the config section its shards record (rgb: ``features``)
    section: ClassVar[str]
    #: manifest columns it is made from (a sample has it when one is non-empty)
    columns: ClassVar[tuple[str, ...]]
    #: the arrays its shards store per sample, the main one first
    arrays: ClassVar[tuple[str, ...]]
    #: the trainable encoder a model uses unless a variant's ``options.encoders`` says
    default_encoder: ClassVar[str]
    #: what ``harfuse predict`` decodes of a video for it (``frames``, ``pose_frames``,
    #: ``wave``), or None when a video cannot give it
    video: ClassVar[str | None] = None
    #: its shards are computed on the frame shards and record their parameters
    from_frames: ClassVar[bool] = False

    def shard_rule(self, config: dict[str, Any]) -> str:
        """The workflow rule writing its shards (by default the rule of the modalities made
        from each sample's file, :data:`FILE_RULE`, with its ``modality`` wildcard)."""
        return FILE_RULE

    def stage_rules(self, config: dict[str, Any]) -> tuple[str, ...]:
        """The rules whose quarantine tables count when a variant uses it."""
        return (self.shard_rule(config),)

    def stage_params(self, config: dict[str, Any]) -> dict[str, Any]:
        """What its stage reads of the config (the rule's params: a change reruns it)."""
        return dict(config[self.section])

    def sections(self, options: dict[str, Any]) -> tuple[str, ...]:
        """The recorded preprocessing sections a trained model of it needs to predict."""
        return (self.section,)

    def available(self, df: pd.DataFrame, config: dict[str, Any]) -> bool:
        """Whether the manifest's samples can provide it."""
        return any(c in df and bool(df[c].astype(bool).any()) for c in self.columns)

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """``raw`` (see :attr:`video`, or a sample's file) as its shard stores it, with the
        preprocessing ``prep`` (config sections by name)."""
        raise NotImplementedError(f"{self.name}: stored")

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        """One sample's stored arrays -> its model input (``inputs``: ``train.inputs``)."""
        raise NotImplementedError(f"{self.name}: model_input")

    def source(
        self,
        paths: Sequence[str | Path],
        inputs: dict[str, Any],
        backbone: dict[str, Any] | None = None,
        train: bool = False,
        cache_bytes: int = 0,
    ) -> Source:
        """Its training source over the shard files ``paths``, keeping up to
        ``cache_bytes`` of the model inputs it made in memory."""
        from harfuse.data.dataset import SampleShardSource

        return SampleShardSource(
            paths, self.arrays, lambda s: self.model_input(s, inputs), cache_bytes=cache_bytes
        )

    def keeps_inputs(self, backbone: dict[str, Any] | None) -> bool:
        """Whether its :meth:`source` keeps the model inputs it made (the ones that do
        share ``train.params.cache_mb``)."""
        return True

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        """One sample's input shape as the config fixes it (the parse-time model check)."""
        raise NotImplementedError(f"{self.name}: dummy_shape")

    def problems(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]], stages: set[str]
    ) -> list[str]:
        """What its stages would fail on, known before any job (files it needs), for the
        ``variants`` that use it and the ``stages`` the run reaches; none by default."""
        return []

    def report_notes(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]]
    ) -> list[str]:
        """Lines under the report's table saying where its input came from (``variants``:
        the runnable ones that use it)."""
        return []
