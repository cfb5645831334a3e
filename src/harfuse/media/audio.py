"""Audio: log-mel spectrograms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harfuse.config_schema import default


@dataclass(frozen=True)
class AudioParams:
    """``audio:`` config. Rates in Hz, ``n_fft``/``hop_length`` in samples; defaults from
    the config schema."""

    sample_rate: int = default("audio", "sample_rate")
    n_mels: int = default("audio", "n_mels")
    n_fft: int = default("audio", "n_fft")
    hop_length: int = default("audio", "hop_length")
    fmin: float = default("audio", "fmin")
    fmax: float | None = default("audio", "fmax")


def log_mel(wave: np.ndarray, params: AudioParams) -> np.ndarray:
    """Log-mel power spectrogram in dB (ref 1.0, floor -100 dB): ``(n_mels, frames)`` float32.

    ``wave`` is mono float at ``params.sample_rate``; frames are centred every
    ``hop_length`` samples, so ``frames = 1 + len(wave) // hop_length``.
    """
    import librosa

    mel = librosa.feature.melspectrogram(
        y=wave.astype(np.float32, copy=False),
        sr=params.sample_rate,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_mels=params.n_mels,
        fmin=params.fmin,
        fmax=params.fmax,
        power=2.0,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None).astype(np.float32)
