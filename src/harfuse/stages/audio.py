"""Stage ``audio``: log-mel spectrogram of each sample's audio track."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from harfuse.media.audio import AudioParams, log_mel
from harfuse.media.decode import read_audio
from harfuse.stages.shard_job import SampleArrays, shard_sources, write_sample_shard


def run(
    manifest_path: str | Path,
    shard: int,
    out_path: str | Path,
    params: dict[str, Any],
    on_error: str,
) -> None:
    """Write ``/{sample_id}/audio`` ``(n_mels, frames)`` float16 dB.

    A file without an audio track gets an empty ``(n_mels, 0)`` array with
    ``has_audio = False`` (recorded, not an error).
    """
    p = AudioParams(**params)
    paths = shard_sources(manifest_path, shard, "audio_path")

    def compute(sid: str) -> SampleArrays:
        wave = read_audio(paths[sid], p.sample_rate)
        has_audio = wave is not None and len(wave) > 0
        mel = log_mel(wave, p) if has_audio else np.zeros((p.n_mels, 0), np.float32)
        attrs = {
            "has_audio": has_audio,
            "source": paths[sid],
            "seconds": 0.0 if wave is None else len(wave) / p.sample_rate,
            **{k: v for k, v in asdict(p).items() if v is not None},
        }
        return {"audio": (mel.astype(np.float16), attrs)}

    write_sample_shard(out_path, "audio", params, list(paths), compute, on_error)
