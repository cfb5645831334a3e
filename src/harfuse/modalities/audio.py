"""The ``audio`` modality: log-mel spectrograms of each sample's audio track (the audio
stage), fitted to ``train.inputs.audio_frames`` frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from harfuse.media.sampling import pad_or_truncate
from harfuse.modalities.base import Context, Modality, Stored


class Audio(Modality):
    name = "audio"
    section = "audio"
    columns = ("audio_path",)
    arrays = ("audio",)
    default_encoder = "logmel_cnn"
    video = "wave"

    def shard_rule(self, config: dict[str, Any]) -> str:
        return "extract_audio"

    def stored(self, raw: Any, prep: dict[str, dict[str, Any]], context: Context) -> Stored:
        """A mono wave ``(S,)`` float32 at ``audio.sample_rate`` (empty: no audio track)
        -> the audio stage's log-mel ``(n_mels, F)``."""
        from harfuse.preprocess.audio import log_mel_spectrogram

        return {"audio": log_mel_spectrogram(raw, prep["audio"], context.source)}

    def model_input(self, stored: Stored, inputs: dict[str, Any]) -> np.ndarray:
        return audio_input(stored["audio"][0], inputs["audio_frames"])

    def dummy_shape(self, config: dict[str, Any], variant: str) -> tuple[int, ...]:
        return (config["audio"]["n_mels"], config["train"]["inputs"]["audio_frames"])


def audio_input(mel: np.ndarray, frames: int) -> np.ndarray:
    """Log-mel ``(n_mels, F)`` -> ``(n_mels, frames)`` float32 dB: zero-padded or cut at the end."""
    fitted, _ = pad_or_truncate(mel.T.astype(np.float32), frames)
    return np.ascontiguousarray(fitted.T)


MODALITY = Audio()
