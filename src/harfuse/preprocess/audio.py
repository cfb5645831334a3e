"""Log-mel spectrograms as the audio stage stores them."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from harfuse.media.audio import AudioParams, log_mel
from harfuse.preprocess import Attrs


def log_mel_spectrogram(
    wave: np.ndarray | None, config: dict[str, Any], source: str | Path = ""
) -> tuple[np.ndarray, Attrs]:
    """``(n_mels, frames)`` float16 dB of a mono ``wave`` at ``audio.sample_rate``, as the
    audio stage stores it. No audio track (``None`` or empty) is silence: an empty
    ``(n_mels, 0)`` array with ``has_audio = False``, which models read as zeros."""
    p = AudioParams(**config)
    has_audio = wave is not None and len(wave) > 0
    mel = log_mel(wave, p) if has_audio else np.zeros((p.n_mels, 0), np.float32)
    attrs = {
        "has_audio": has_audio,
        "source": str(source),
        "seconds": 0.0 if wave is None else len(wave) / p.sample_rate,
        **{k: v for k, v in asdict(p).items() if v is not None},
    }
    return mel.astype(np.float16), attrs
