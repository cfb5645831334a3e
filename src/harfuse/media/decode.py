"""Decoding with PyAV: video frames sampled by timestamp, and audio resampled to mono."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class DecodeError(RuntimeError):
    """A media file could not be decoded; the message names the file and the reason."""


def open_media(path: str | Path):
    """Open ``path`` with PyAV for reading; :class:`DecodeError` when it cannot."""
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise DecodeError(f"{path}: cannot open: {exc}") from exc


def displayed_rgb(frame) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB as the frame is meant to be shown: the rotation of the
    display matrix (phones' portrait videos) is applied."""
    rgb = frame.to_ndarray(format="rgb24")
    quarter_turns = round((frame.rotation or 0) / 90) % 4  # counter-clockwise
    return np.ascontiguousarray(np.rot90(rgb, k=quarter_turns)) if quarter_turns else rgb


def iter_frames_at_fps(
    path: str | Path, fps: float, max_duration_s: float | None = None
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(t, rgb)`` for target times ``t = k / fps`` s from the first frame.

    Each target time takes the frame shown at that moment (the last frame whose timestamp
    is at or before it), so variable frame rate sources are sampled by time, not by index.
    ``rgb`` is ``(H, W, 3)`` uint8 as displayed (rotation metadata applied), read-only;
    only the selected frames are converted, each once: a frame shown at several target
    times (a variable or lower frame rate) is yielded as the same array each time.
    """
    import av

    shown: dict[str, Any] = {}  # the frame shown now and its converted array

    def rgb_of(frame) -> np.ndarray:
        if shown.get("frame") is not frame:
            rgb = displayed_rgb(frame)
            rgb.flags.writeable = False
            shown.update(frame=frame, rgb=rgb)
        return shown["rgb"]

    with open_media(path) as container:
        if not container.streams.video:
            raise DecodeError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1.0 / fps
        # Containers round timestamps (Matroska to 1 ms): a frame stamped up to 1 ms after
        # a target time still counts as shown at it, or sampling at the source rate would
        # skip and repeat frames.
        slack = min(1e-3, step / 4)
        k = 0
        start: float | None = None
        prev = None
        prev_t = 0.0
        last_gap = step
        try:
            for frame in container.decode(stream):
                if frame.time is None:
                    continue
                if start is None:
                    start = frame.time
                t = frame.time - start
                if prev is not None:
                    last_gap = max(t - prev_t, 1e-6)
                    while k * step + slack < t:
                        if max_duration_s is not None and k * step >= max_duration_s:
                            return
                        yield k * step, rgb_of(prev)
                        k += 1
                prev, prev_t = frame, t
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{path}: decoding failed after {k} frames: {exc}") from exc
        if prev is None:
            raise DecodeError(f"{path}: no decodable video frame")
        end = prev_t + last_gap  # the last frame is shown for one more frame interval
        while k * step < end and (max_duration_s is None or k * step < max_duration_s):
            yield k * step, rgb_of(prev)
            k += 1


@dataclass(frozen=True)
class AudioTrack:
    """A decoded audio track and what was lost decoding it.

    ``wave`` is ``(S,)`` float32 mono at ``rate`` Hz. Of the stream's ``packets_total``
    packets, ``packets_skipped`` did not decode; ``seconds_lost`` s of ``wave`` are the
    silence that stands in for them (0 where a skipped packet was not to be presented,
    like a damaged AAC priming packet).
    """

    wave: np.ndarray
    rate: int
    packets_total: int = 0
    packets_skipped: int = 0
    seconds_lost: float = 0.0

    def loss_attrs(self) -> dict[str, int | float]:
        """The loss as stored attributes: ``packets_total``, ``packets_skipped``,
        ``seconds_lost`` (s)."""
        return {
            "packets_total": self.packets_total,
            "packets_skipped": self.packets_skipped,
            "seconds_lost": self.seconds_lost,
        }


#: the loss attributes of a file without an audio track
NO_AUDIO_LOSS: dict[str, int | float] = {
    "packets_total": 0,
    "packets_skipped": 0,
    "seconds_lost": 0.0,
}


def _packet_seconds(packet, codec) -> float:
    """The time ``packet`` stands for, s: its duration, else one codec frame (AC3 1536,
    AAC 1024, MP3 1152 samples), else 0 (unknown)."""
    if packet.duration and packet.time_base:
        return float(packet.duration * packet.time_base)
    if codec.frame_size and codec.sample_rate:
        return codec.frame_size / codec.sample_rate
    return 0.0


def _silent_like(frame, samples: int):
    """An audio frame of ``samples`` zeros in ``frame``'s format, layout and rate."""
    import av

    silence = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=samples)
    silence.sample_rate = frame.sample_rate
    for plane in silence.planes:
        plane.update(bytes(plane.buffer_size))
    return silence


class _MonoWave:
    """Decoded audio frames resampled to mono float32 at ``rate`` Hz, with silence where
    packets were skipped. ``start_s`` and ``end_s`` are the stream's start and the file's
    end on the stream's clock, s (``None``: unknown).

    The silence goes through the resampler like decoded audio, so the resampler runs on
    unbroken and the audio after a gap keeps its phase (restarting it shifted it by a
    fraction of a sample)."""

    def __init__(self, rate: int, start_s: float | None, end_s: float | None) -> None:
        self.rate = rate
        self.start_s, self.end_s = start_s, end_s
        self.chunks: list[np.ndarray] = []  # (n,) float32 output pieces, in order
        self.fed_s = 0.0  # input so far (decoded and silence), s
        self.silent_s = 0.0  # of it, silence standing for skipped packets, s
        self.origin: float | None = None  # stream time of the first input sample, s
        self.pending_s = 0.0  # duration of the packets skipped since the last frame, s
        self._resampler = None
        self._last = None  # the last decoded frame: the format of a gap at the end

    def skip(self, seconds: float) -> None:
        """A packet standing for ``seconds`` s did not decode."""
        self.pending_s += seconds

    def _gap_s(self, until_s: float | None) -> float:
        """How long the gap of skipped packets lasts, s: up to the next frame's timestamp
        ``until_s`` where it and the origin are known (a packet the decoder would have
        dropped, like AAC priming, leaves no gap; a parser that merged garbage with the
        next frame leaves a longer one than the packet's duration) but not past the end of
        the file; else the skipped packets' duration."""
        if until_s is None or self.origin is None:
            return self.pending_s
        gap = max(0.0, until_s - self.origin - self.fed_s)
        if self.end_s is None:  # timestamps with nothing to check them against
            return min(gap, self.pending_s)
        return min(gap, max(0.0, self.end_s - self.origin - self.fed_s))

    def _feed(self, frame) -> None:
        import av

        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=self.rate)
        self.chunks.extend(f.to_ndarray().reshape(-1) for f in self._resampler.resample(frame))
        self.fed_s += frame.samples / frame.sample_rate

    def add(self, frame) -> None:
        """A decoded frame, after any gap before it."""
        if self.pending_s:
            if self.origin is None and not self.fed_s:  # the gap starts the stream
                self.origin = self.start_s
            samples = round(self._gap_s(frame.time) * frame.sample_rate)
            if samples:
                self._feed(_silent_like(frame, samples))
                self.silent_s += samples / frame.sample_rate
            self.pending_s = 0.0
        if self.origin is None and frame.time is not None:
            self.origin = frame.time - self.fed_s
        self._last = frame
        self._feed(frame)

    def finish(self) -> np.ndarray:
        """``(S,)`` float32: all of it, a gap at the end (the skipped packets' duration)
        included."""
        if self.pending_s and self._resampler is not None:
            samples = round(self.pending_s * self._last.sample_rate)
            self._feed(_silent_like(self._last, samples))
            self.silent_s += samples / self._last.sample_rate
        if self._resampler is not None:
            self.chunks.extend(f.to_ndarray().reshape(-1) for f in self._resampler.resample(None))
            self._resampler = None  # its filter graph and threads go now
        if not self.chunks:
            return np.zeros(0, np.float32)
        return np.concatenate(self.chunks).astype(np.float32, copy=False)


def decode_audio(path: str | Path, rate: int) -> AudioTrack | None:
    """Decode the first audio stream as mono float32 at ``rate`` Hz; ``None`` if the file
    has no audio stream.

    Packets that do not decode (damaged data: the decoder raises) are skipped and the rest
    kept. The time they stood for becomes silence where they were, so that the audio after
    them stays aligned with the video, as a multimodal model expects (concatenating would
    shift the rest earlier by the lost time). The gap runs to the next decoded frame's
    timestamp, not past the end of the file; without timestamps it lasts the skipped
    packets' duration. The loss is in the returned :class:`AudioTrack` and logged as a
    warning naming the file. A file whose packets all decode gives the same audio as
    before skipping existed (it is decoded the same way).

    Raises :class:`DecodeError` naming the file when the stream has packets but none of
    them decodes, or when the container cannot be read on (a demuxing error).
    """
    import av

    with open_media(path) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        codec = stream.codec_context
        out = _MonoWave(rate, *_audio_span(container, stream))
        total = skipped = 0
        first_error = ""  # the message, not the exception: that would keep this frame,
        # its container and resampler (a filter graph with threads) alive in a reference
        # cycle until a garbage collection, which may come in a forked DataLoader worker
        # and hang there freeing threads that the fork did not copy
        try:
            for packet in container.demux(stream):
                flush = packet.size == 0  # the end-of-stream packet: flushes the decoder
                total += not flush
                try:
                    frames = codec.decode(packet)
                except av.error.FFmpegError as exc:
                    if flush:  # what the decoder still held is lost; nothing to skip
                        break
                    skipped += 1
                    first_error = first_error or str(exc)
                    out.skip(_packet_seconds(packet, codec))
                    continue
                for frame in frames:
                    out.add(frame)
            wave = out.finish()
        except av.error.FFmpegError as exc:
            raise DecodeError(f"{path}: audio decoding failed: {exc}") from exc
    if total and skipped == total:
        raise DecodeError(
            f"{path}: no audio packet decodes (all {total} failed; first: {first_error})"
        )
    if skipped:
        log.warning(
            "%s: skipped %d of %d audio packets that do not decode (%.3f s of silence in "
            "their place; first: %s)",
            *(path, skipped, total, out.silent_s, first_error),
        )
    return AudioTrack(wave, rate, total, skipped, out.silent_s)


def _audio_span(container: Any, stream: Any) -> tuple[float | None, float | None]:
    """``(start, end)`` s of an audio ``stream`` in its ``container`` (None: unknown)."""
    import av

    start = None if stream.start_time is None else float(stream.start_time * stream.time_base)
    end = None
    if container.duration is not None:  # in 1 / av.time_base s, like start_time
        end = (container.start_time or 0) / av.time_base + container.duration / av.time_base
    return start, end


def read_audio(path: str | Path, rate: int) -> np.ndarray | None:
    """``(S,)`` float32 mono at ``rate`` Hz of the first audio stream, ``None`` if absent:
    :func:`decode_audio`'s wave (undecodable packets are silence, the loss is logged)."""
    track = decode_audio(path, rate)
    return None if track is None else track.wave
