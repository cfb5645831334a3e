"""Audio: log-mel spectrograms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AudioParams:
    """``audio:`` config. Rates in Hz, ``n_fft``/``hop_length`` in samples."""

    sample_rate: int = 16000
    n_mels: int = 64
    n_fft: int = 512
    hop_length: int = 160
    fmin: float = 0.0
    fmax: float | None = None


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
