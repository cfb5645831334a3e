"""The ``rgb`` modality: features of a frozen encoder over the frames (the features stage,
one cache per ``features.sets`` entry), or clips of the frames themselves when a variant
fine-tunes a backbone on them (``options.backbone``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from harfuse.modalities.base import Context, Modality, Source, Stored


class Rgb(Modality):
    name = "rgb"
    section = "features"
    columns = ("video_path", "image_path")
    arrays = ("rgb",)
    default_encoder = "feature_sequence"
    video = "frames"
    from_frames = True

    def shard_rule(self, config: dict[str, Any]) -> str:
        return "extract_features"

    def stage_rules(self, config: dict[str, Any]) -> tuple[str, ...]:
        # the features caches are counted per set the variants read (the workflow's
        # quarantine_tables), the frames here
        return ("extract_frames",)

    def sections(self, options: dict[str, Any]) -> tuple[str, ...]:
        return ("frames",) if options.get("backbone") else ("frames", "features")

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """Frames ``(T, H, W, 3)`` uint8 as stored -> the frozen encoder's temporal
        features ``(T', D)`` of one clip; with a fine-tuned backbone, its evaluation clips
        ``(clips, T, h, w, 3)`` (what the model reads)."""
        if context.backbone:
            from harfuse.data.clips import eval_clips
            from harfuse.encoders.backbones import BackboneSpec

            spec = BackboneSpec.from_options(context.backbone)
            return {"rgb": (eval_clips(raw, spec.num_frames, spec.input_size, spec.test_clips), {})}
        import torch

        from harfuse.encoders.extract import clip, encode_clips

        feats = prep["features"]
        clips = [clip(raw, feats["num_frames"], tuple(feats["input_size"]))]
        device = torch.device(context.device)
        return {"rgb": (encode_clips(context.encoder, clips, 1, device)[0], {})}

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        return stored["rgb"][0]

    def source(
        self,
        paths: Sequence[str | Path],
        inputs: dict[str, Any],
        backbone: dict[str, Any] | None = None,
        train: bool = False,
        cache_bytes: int = 0,
    ) -> Source:
        """The cached features of the feature shards ``paths`` (up to ``cache_bytes`` of
        them kept in memory once read); with ``backbone``, clips from the frame shards
        ``paths``: one at random per sample for training (``train``), the backbone's
        ``test_clips`` centre clips otherwise (read each time: random, and large)."""
        if backbone is None:
            from harfuse.data.dataset import FeatureSource

            return FeatureSource(paths, cache_bytes=cache_bytes)
        from harfuse.data.clips import FrameClipSource
        from harfuse.encoders.backbones import BackboneSpec

        spec = BackboneSpec.from_options(backbone)
        clips = 1 if train else spec.test_clips
        return FrameClipSource(paths, spec.num_frames, spec.input_size, train=train, clips=clips)

    def keeps_inputs(self, backbone: dict[str, Any] | None) -> bool:
        """Features are kept; a fine-tuned backbone's clips never are (random, and large)."""
        return backbone is None

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        """Clips ``(T, h, w, 3)`` of a fine-tuned backbone, else the features set's
        ``(T, D)``: one step per frame of an image encoder, one per clip of a video one."""
        from harfuse.encoders.backbones import IMAGE_BACKBONES, VIDEO_BACKBONES, BackboneSpec
        from harfuse.plan import feature_set

        backbone = (config["train"]["variants"][variant].get("options") or {}).get("backbone")
        if backbone:
            return BackboneSpec.from_options(backbone).input_shape()
        feats = config["features"]["sets"][feature_set(config, variant)]
        encoder = feats["encoder"]
        if encoder in IMAGE_BACKBONES:
            return (feats["num_frames"], IMAGE_BACKBONES[encoder])
        return (1, VIDEO_BACKBONES[encoder])

    def problems(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]], stages: set[str]
    ) -> list[str]:
        """The weights files of the frozen encoders the variants read (stages ``features``
        or ``train``) and of their fine-tuned backbones (``train``)."""
        from harfuse.plan import feature_set, reads_frames
        from harfuse.weights import missing_weights

        used = {feature_set(config, v) for v in variants if not reads_frames(config, v)}
        allow = config["features"]["allow_download"]
        problems = []
        for name in sorted(used) if stages & {"train", "features"} else []:
            feats = config["features"]["sets"][name]
            why = missing_weights(feats["encoder"], feats["weights"], allow)
            if why:
                problems.append(f"features.sets.{name}.weights: {why}")
        for name, spec in variants.items() if "train" in stages else {}:
            backbone = (spec.get("options") or {}).get("backbone") or {}
            why = (
                backbone
                and not backbone.get("init_from")
                and missing_weights(
                    backbone.get("arch", ""),
                    backbone.get("weights", "none"),
                    backbone.get("allow_download", False),
                    f"train.variants.{name}.options.backbone.allow_download",
                )
            )
            if why:
                problems.append(f"train.variants.{name}.options.backbone.weights: {why}")
        return problems

    def report_notes(
        self, config: dict[str, Any], variants: dict[str, dict[str, Any]]
    ) -> list[str]:
        """What each variant's rgb is: its fine-tuned backbone, or its frozen features set
        (one line per set)."""
        from harfuse.plan import describe_backbone, feature_set, reads_frames

        notes = [
            f"rgb of variant {v} = {describe_backbone(spec['options']['backbone'])}"
            for v, spec in variants.items()
            if reads_frames(config, v)
        ]
        for name in sorted(
            {feature_set(config, v) for v in variants if not reads_frames(config, v)}
        ):
            feats = config["features"]["sets"][name]
            none = feats["weights"] == "none"
            weights = "none (random init, frozen)" if none else feats["weights"]
            notes.append(
                f"rgb of set {name} = frozen {feats['encoder']} features, weights: {weights}"
            )
        return notes


MODALITY = Rgb()
