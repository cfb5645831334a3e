"""Stage ``audio``: log-mel spectrogram of each sample's audio track."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harfuse.media.audio import AudioParams
from harfuse.media.decode import NO_AUDIO_LOSS, decode_audio
from harfuse.preprocess.audio import log_mel_spectrogram
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
    ``has_audio = False`` (recorded, not an error). Audio packets that do not decode are
    silence where they were; ``packets_total``, ``packets_skipped`` and ``seconds_lost``
    (s of that silence) record it. A file none of whose audio packets decodes is
    quarantined.
    """
    paths = shard_sources(manifest_path, shard, "audio_path")
    rate = AudioParams(**params).sample_rate  # with the schema default when left out

    def compute(sid: str) -> SampleArrays:
        track = decode_audio(paths[sid], rate)
        mel, attrs = log_mel_spectrogram(None if track is None else track.wave, params, paths[sid])
        attrs |= NO_AUDIO_LOSS if track is None else track.loss_attrs()
        return {"audio": (mel, attrs)}

    write_sample_shard(out_path, "audio", params, list(paths), compute, on_error)
