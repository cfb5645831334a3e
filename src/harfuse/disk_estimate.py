"""How many bytes each stage of a run will write, known before the run: ``harfuse plan``
prints it, and the workflow warns before the shard jobs when it exceeds the free space
(:func:`harfuse.preflight.check_data`).

What each figure rests on:

- **durations**: no manifest holds them. A seeded random sample of the videos (up to
  :data:`PROBE_SOURCES`) is probed (the container's metadata, nothing decoded), capped at
  ``frames.max_duration_s`` as the frames stage caps them; the mean is extrapolated to
  every video. An image is one frame.
- **frames**: the first :data:`MEASURE_SOURCES` of the sample are decoded and stored as
  the frames stage does (:func:`~harfuse.preprocess.frames.video_frames`, then
  :class:`~harfuse.store.shards.ShardWriter` with the configured JPEG quality) into a
  scratch shard: bytes per frame = its size less an empty shard's, over its frames.
- **flow**: the flow stage's functions on the scratch frame shard (the feed's gray
  frames, :func:`~harfuse.preprocess.flow.flow_field`, the same writer: quantised and
  gzipped), on up to :data:`FLOW_PAIRS` consecutive pairs per video within a time budget.
  The cv2 backend computes it (the torch ports give the same codes); where the configured
  method cannot run here (RAFT without its weights, TV-L1 without opencv-contrib),
  Farneback is measured instead, stored by the same codec, and the table says so.
- **audio**, **imu**, **skeleton** (the dataset's files), **depth**: measured the same
  way, per log-mel frame (``1 + seconds * sample_rate // hop_length`` of the probed audio
  tracks, uncapped: the audio stage keeps the whole track) or per sample.
- **features**: exact: the shards a features set writes (``temporal`` ``(N, T', D)`` and
  ``pooled`` ``(N, D)`` float32, from the encoders' declared dimensions) written with
  zeros, so that the HDF5 overhead is measured too.
- **pose** (``skeleton.source: pose``): float16 keypoints per stored frame, uncompressed:
  an upper bound (the estimator is not run).
- **runs**: ``model.pt`` of every run, the state dict of each variant's model built on
  torch's meta device (no weights allocated).

Every sharded stage also writes, per shard, the root of its HDF5 file and its
quarantine table: measured once and counted per shard.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harfuse.datasets import LayoutError, scan_dataset
from harfuse.media.decode import DecodeError, open_media
from harfuse.media.frames import IMAGE_EXTENSIONS
from harfuse.modalities.registry import MODALITIES, available_modalities, file_modalities
from harfuse.plan import experiments, feature_params, feature_set, reads_frames, variant_splits
from harfuse.store.manifest import assign_shards, read_manifest
from harfuse.store.quarantine import write_quarantine
from harfuse.store.shards import FRAMES_PARAMS, ShardReader, ShardWriter, encode_params

#: sources (videos and images) whose durations are probed, at most
PROBE_SOURCES = 64
#: of them, those decoded and stored to measure the bytes per item, at most
MEASURE_SOURCES = 16
#: seconds of each measured video decoded at most (bytes per frame do not need more)
MEASURE_SECONDS = 30.0
#: consecutive frame pairs whose flow is measured per video, by method (TV-L1 and RAFT
#: take about a second a pair on a CPU core at 256 px)
FLOW_PAIRS = {"farneback": 16, "tvl1": 4, "raft": 4}
#: seconds the flow, audio and per-file measurements may each take (one sample at least)
TIME_BUDGET_S = 20.0
#: what a measurement may meet in a dataset's files: the file is left out of it
BAD_INPUT = (DecodeError, OSError, ValueError, KeyError)


@dataclass(frozen=True)
class StageBytes:
    """What one stage writes: ``stage`` (its folder under ``results/{dataset}``),
    ``items`` of ``unit`` (frames, pairs, samples...), ``total`` bytes, ``present`` bytes
    already in its folder, and ``how`` the figure was made."""

    stage: str
    items: float
    unit: str
    total: float
    how: str
    present: int = 0

    @property
    def per_item(self) -> float:
        """Bytes per item, the per-shard files included."""
        return self.total / self.items if self.items else 0.0

    @property
    def needed(self) -> float:
        """Bytes still to write: the total less what its folder already holds."""
        return max(0.0, self.total - self.present)


@dataclass(frozen=True)
class Probe:
    """The sample behind the measured figures: of ``sources`` videos and images,
    ``probed`` had their durations read (``unreadable`` could not be opened) and
    ``measured`` were decoded and stored; ``seed`` drew them; ``mean_seconds`` is the
    probed videos' mean duration after ``frames.max_duration_s`` (s)."""

    sources: int
    probed: int
    measured: int
    seed: int
    mean_seconds: float
    unreadable: int = 0


@dataclass(frozen=True)
class DiskEstimate:
    """The estimate of a run: per stage, and the free space where ``results`` lives
    (``free`` bytes on the file system of ``free_at``, its nearest existing folder)."""

    dataset: str
    results: str
    samples: int
    shards: int
    probe: Probe
    stages: tuple[StageBytes, ...]
    free: int
    free_at: str

    @property
    def total(self) -> float:
        """Bytes of every stage."""
        return sum(s.total for s in self.stages)

    @property
    def needed(self) -> float:
        """Bytes still to write (what the stage folders hold already is left out)."""
        return sum(s.needed for s in self.stages)

    @property
    def short(self) -> bool:
        """Whether the bytes still to write exceed the free space."""
        return self.needed > self.free


def human_bytes(n: float) -> str:
    """``n`` bytes in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"2.0 TiB"``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"  # unreachable: TiB is the last unit


def free_space(path: str | Path) -> tuple[int, Path]:
    """Free bytes (for this user) on the file system of ``path``, and the folder asked:
    ``path`` or its nearest existing parent (results/ may not exist yet)."""
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free, folder


def folder_bytes(path: str | Path) -> int:
    """Bytes of the files under ``path`` (0 when absent)."""
    root = Path(path)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def dataset_samples(config: dict[str, Any], results: str | Path) -> pd.DataFrame:
    """The manifest at ``results/manifest.parquet``, or, before it exists, the dataset
    scanned as the manifest stage would and split into shards as it would (its
    ``attrs["splits"]`` the scan's splits)."""
    path = Path(results) / "manifest.parquet"
    if path.is_file():
        return read_manifest(path)
    dataset = config["dataset"]
    if dataset["layout"] == "demo" and not Path(dataset["root"]).is_dir():
        raise LayoutError(
            f"dataset.root: {dataset['root']} does not exist yet; the workflow generates the "
            f"demo there (snakemake --cores 1 {dataset['root']}), then harfuse plan can probe it"
        )
    scan = scan_dataset(
        dataset["root"], dataset["layout"], dataset.get("classes"), **(dataset.get("options") or {})
    )
    if scan.samples.empty:
        raise ValueError(f"{dataset['root']}: no usable sample for layout {dataset['layout']}")
    df = assign_shards(scan.samples, dataset["samples_per_shard"])
    df.attrs["splits"] = list(scan.splits)
    return df


def sources(df: pd.DataFrame, columns: Iterable[str]) -> pd.Series:
    """``sample_id -> path`` of the rows with a file in one of ``columns`` (the first),
    as a stage reading those columns takes them."""
    columns = [c for c in columns if c in df]
    paths = pd.Series("", index=df["sample_id"].to_numpy(), dtype=object)
    for column in reversed(columns):  # the first non-empty column wins
        values = df[column].fillna("").astype(str).to_numpy()
        paths = paths.where(values == "", values)
    return paths[paths != ""]


def seeded_sample(paths: pd.Series, n: int, seed: int) -> pd.Series:
    """``n`` of ``paths`` drawn at random (all of them when fewer), reproducibly for
    ``seed``."""
    if len(paths) <= n:
        return paths
    rng = np.random.default_rng(seed)
    return paths.iloc[rng.choice(len(paths), n, replace=False)]


def media_seconds(path: str | Path) -> tuple[float | None, float | None]:
    """``(video, audio)`` durations of a media file, s, from its container's metadata
    (the stream's own duration, else the container's); None where it has no such
    stream or says nothing. Nothing is decoded."""
    with open_media(path) as container:
        whole = container.duration / 1e6 if container.duration else None

        def seconds(streams: Any) -> float | None:
            if not streams:
                return None
            s = streams[0]
            return float(s.duration * s.time_base) if s.duration and s.time_base else whole

        return seconds(container.streams.video), seconds(container.streams.audio)


def stored_frames(seconds: float | None, path: str, frames: dict[str, Any]) -> int:
    """Frames the frames stage stores of a source of ``seconds`` s: ``num_frames`` when
    set, else one per ``1 / fps`` s of at most ``max_duration_s`` s (as the decoder
    steps through it); 1 for an image."""
    if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
        return 1
    if frames["num_frames"]:
        return int(frames["num_frames"])
    cap = frames["max_duration_s"]
    kept = min(seconds or 0.0, cap) if cap is not None else seconds or 0.0
    return max(1, math.ceil(kept * frames["fps"] - 1e-6))


def probe_durations(paths: pd.Series) -> dict[str, tuple[float | None, float | None]]:
    """``sample_id -> (video, audio)`` seconds (:func:`media_seconds`) of ``paths``; an
    image is ``(None, None)``, an unreadable file is left out."""
    found = {}
    for sid, path in paths.items():
        if Path(path).suffix.lower() in IMAGE_EXTENSIONS:
            found[sid] = (None, None)
            continue
        try:
            found[sid] = media_seconds(path)
        except DecodeError:
            continue
    return found


@dataclass(frozen=True)
class Measured:
    """A scratch shard a stage's functions wrote: ``path``, its ``size`` (bytes) less an
    empty shard's, the ``items`` and ``samples`` it holds, and the first ``error`` of the
    files it left out ("" for none)."""

    path: Path
    size: int
    items: int
    samples: int
    error: str = ""


def empty_shard_bytes(stage: str, params: dict[str, Any], scratch: Path, **attrs: str) -> int:
    """Bytes of a shard of ``stage`` with ``params`` (and root ``attrs``) but no sample."""
    shard = scratch / f"empty-{stage}.h5"
    with ShardWriter(shard, stage, params) as writer:
        for key, value in attrs.items():
            writer.set_attr(key, value)
    return shard.stat().st_size


def empty_table_bytes(scratch: Path) -> int:
    """Bytes of an empty quarantine table (the one every shard job writes)."""
    table = scratch / "empty.quarantine.parquet"
    write_quarantine(table, [])
    return table.stat().st_size


def shard_overhead(stage: str, params: dict[str, Any], scratch: Path, **attrs: str) -> int:
    """Bytes a shard job of ``stage`` writes whatever its samples: an empty shard and an
    empty quarantine table."""
    return empty_shard_bytes(stage, params, scratch, **attrs) + empty_table_bytes(scratch)


def write_measured(
    path: Path,
    stage: str,
    params: dict[str, Any],
    paths: pd.Series,
    compute: Callable[[str, str], tuple[dict[str, tuple[np.ndarray, dict]], int]],
    budget_s: float = float("inf"),
    quality: int | None = None,
    **attrs: str,
) -> Measured:
    """A scratch shard of ``stage`` holding what ``compute(sample_id, path)`` gives for
    ``paths`` (``({name: (array, attrs)}, items)``, as a stage stores one sample; a file
    it cannot use is left out), until ``budget_s`` s have passed (one sample at least).
    ``quality``: the JPEG quality of ``frames`` arrays."""
    start, items, samples, error = time.perf_counter(), 0, 0, ""
    with ShardWriter(path, stage, params) as writer:
        for key, value in attrs.items():
            writer.set_attr(key, value)
        for sid, source in paths.items():
            if samples and time.perf_counter() - start > budget_s:
                break
            try:
                arrays, n = compute(str(sid), str(source))
            except BAD_INPUT as exc:
                error = error or f"{type(exc).__name__}: {exc}"
                continue
            for name, (array, array_attrs) in arrays.items():
                writer.write(str(sid), name, array, array_attrs, quality)
            items, samples = items + n, samples + 1
    empty = empty_shard_bytes(stage, params, path.parent, **attrs)
    return Measured(path, max(0, path.stat().st_size - empty), items, samples, error)


def measure_frames(paths: pd.Series, frames: dict[str, Any], scratch: Path) -> Measured:
    """The frames stage's bytes per frame: ``paths`` decoded by
    :func:`~harfuse.preprocess.frames.video_frames` (at most :data:`MEASURE_SECONDS` s
    each) and stored as the stage stores them (JPEG at its quality, or raw + gzip)."""
    from harfuse.preprocess.frames import jpeg_quality, video_frames

    cap = frames["max_duration_s"]
    decode = {**frames, "max_duration_s": min(cap or MEASURE_SECONDS, MEASURE_SECONDS)}

    def compute(sid: str, path: str) -> tuple[dict, int]:
        array, attrs = video_frames(path, decode)
        return {"frames": (array, attrs)}, len(array)

    return write_measured(
        scratch / "frames.h5", "frames", frames, paths, compute, quality=jpeg_quality(frames)
    )


def flow_measure_config(flow: dict[str, Any], method: str) -> dict[str, Any]:
    """The ``flow`` section as the measurement computes it: ``method``, on the cv2
    backend (the torch ports' codes are the same) except for RAFT (torch only)."""
    return {**flow, "method": method, "backend": "torch" if method == "raft" else "cv2"}


def measure_flow(
    frames_shard: Path, flow: dict[str, Any], scratch: Path, budget_s: float
) -> tuple[Measured, str]:
    """The flow stage's bytes per pair on the scratch frame shard, and what was
    computed: the configured method on up to :data:`FLOW_PAIRS` pairs per video, or
    Farneback where the method cannot run here (the same codec stores both)."""
    from harfuse.data.frame_feed import decoded_frames
    from harfuse.preprocess.flow import flow_field

    reader = ShardReader(frames_shard)
    ids = pd.Series({s: s for s in reader.sample_ids() if reader.length(s) > 1}, dtype=object)
    attrs = {FRAMES_PARAMS: encode_params(reader.params)}

    def run(method: str) -> Measured:
        cfg, pairs = flow_measure_config(flow, method), FLOW_PAIRS[method]

        def compute(sid: str, _: str) -> tuple[dict, int]:
            steps = np.arange(min(reader.length(sid), pairs + 1))
            frames = decoded_frames(reader, sid, steps, gray=method != "raft")
            codes, field_attrs = flow_field(frames, cfg, "cpu")
            return {"flow": (codes, field_attrs)}, len(codes)

        return write_measured(scratch / "flow.h5", "flow", flow, ids, compute, budget_s, **attrs)

    method = flow["method"]
    try:
        measured = run(method)
        why = measured.error or "no pair computed"
    except (ImportError, AttributeError, RuntimeError, ValueError, OSError) as exc:
        if method == "farneback":
            raise
        measured, why = None, f"{type(exc).__name__}: {exc}"
    if measured is not None and (measured.items or method == "farneback"):
        return measured, f"{method} (cv2)" if method != "raft" else "raft (torch, CPU)"
    why = why.splitlines()[0][:100] if why else ""
    return run("farneback"), f"farneback instead of {method} ({why}; same codec)"


def measure_audio(
    paths: pd.Series, audio: dict[str, Any], scratch: Path, budget_s: float
) -> Measured:
    """The audio stage's bytes per log-mel frame: ``paths``' tracks decoded and stored as
    the stage stores them (float16 dB, gzip)."""
    from harfuse.media.audio import AudioParams
    from harfuse.media.decode import NO_AUDIO_LOSS, decode_audio
    from harfuse.preprocess.audio import log_mel_spectrogram

    rate = AudioParams(**audio).sample_rate

    def compute(sid: str, path: str) -> tuple[dict, int]:
        track = decode_audio(path, rate)
        mel, attrs = log_mel_spectrogram(None if track is None else track.wave, audio, path)
        attrs |= NO_AUDIO_LOSS if track is None else track.loss_attrs()
        return {"audio": (mel, attrs)}, mel.shape[1]

    return write_measured(scratch / "audio.h5", "audio", audio, paths, compute, budget_s)


def measure_files(
    modality: str, paths: pd.Series, config: dict[str, Any], scratch: Path, budget_s: float
) -> Measured:
    """The per-file stage's bytes per sample of ``modality`` (imu, skeleton, depth):
    ``paths`` through the modality's ``stored``, as the stage runs it."""
    from harfuse.modalities.base import Context

    unit = MODALITIES[modality]
    params = unit.stage_params(config)

    def compute(sid: str, path: str) -> tuple[dict, int]:
        return unit.stored(path, {unit.section: params}, Context(source=path)), 1

    return write_measured(scratch / f"{modality}.h5", modality, params, paths, compute, budget_s)


def mel_frames(seconds: float | None, audio: dict[str, Any]) -> int:
    """Log-mel frames of an audio track of ``seconds`` s (0: no track)."""
    if not seconds:
        return 0
    return 1 + int(seconds * audio["sample_rate"]) // audio["hop_length"]


def used_outputs(config: dict[str, Any], df: pd.DataFrame) -> tuple[set[str], set[str]]:
    """The modalities the runnable variants read (those whose modalities the dataset has)
    and the features sets their rgb reads (not the variants fine-tuning on frames)."""
    available = available_modalities(df, config)
    runnable = {
        name: spec
        for name, spec in config["train"]["variants"].items()
        if set(spec["modalities"]) <= available
    }
    modalities = {m for spec in runnable.values() for m in spec["modalities"]}
    sets = {
        feature_set(config, name)
        for name, spec in runnable.items()
        if "rgb" in spec["modalities"] and not reads_frames(config, name)
    }
    return modalities, sets


def feature_dims(encoder: str, num_frames: int) -> tuple[int, int]:
    """``(T', D)`` of a frozen encoder's features: one step per frame of an image
    backbone, one per clip of a video one (the encoders' declared sizes)."""
    from harfuse.encoders.backbones import IMAGE_BACKBONES, VIDEO_BACKBONES

    if encoder in IMAGE_BACKBONES:
        return num_frames, IMAGE_BACKBONES[encoder]
    return 1, VIDEO_BACKBONES[encoder]


def feature_shard_bytes(
    ids: list[str], params: dict[str, Any], frames: dict[str, Any], path: Path
) -> int:
    """Bytes of a features shard of ``ids``, exactly as the features stage lays it out
    (float32 ``pooled`` and ``temporal``, the sample ids, its attributes), written with
    zeros: float32 arrays are stored uncompressed, so their values do not count."""
    from harfuse.weights import describe

    steps, dim = feature_dims(params["encoder"], params["num_frames"])
    with ShardWriter(path, "features", params) as writer:
        writer.write_stacked("sample_id", np.array(ids, dtype=object))
        writer.write_stacked("pooled", np.zeros((len(ids), dim), np.float32))
        writer.write_stacked("temporal", np.zeros((len(ids), steps, dim), np.float32))
        writer.set_attr(FRAMES_PARAMS, encode_params(frames))
        writer.set_attr("encoder", params["encoder"])
        writer.set_attr("weights", describe(params["weights"]))
        writer.set_attr("random_init", params["weights"] == "none")
    return path.stat().st_size


def features_stage(
    config: dict[str, Any], name: str, shard_ids: dict[int, list[str]], scratch: Path
) -> StageBytes:
    """Features set ``name``'s shards (``shard_ids``: shard -> its samples with frames),
    each size of shard written once."""
    params = feature_params(config, name)
    sizes: dict[int, int] = {}
    total = len(shard_ids) * empty_table_bytes(scratch)
    for ids in shard_ids.values():
        if len(ids) not in sizes:
            path = scratch / f"features-{name}-{len(ids)}.h5"
            sizes[len(ids)] = feature_shard_bytes(ids, params, config["frames"], path)
        total += sizes[len(ids)]
    steps, dim = feature_dims(params["encoder"], params["num_frames"])
    samples = sum(len(ids) for ids in shard_ids.values())
    how = f"exact: {params['encoder']} {steps} x {dim} float32 + pooled, HDF5 measured"
    return StageBytes(f"features/{name}", samples, "samples", total, how)


def state_dict_bytes(config: dict[str, Any], variant: str, num_classes: int) -> int:
    """Bytes of ``variant``'s model's state dict (``model.pt``, float32), the model
    built on torch's meta device on the config's input shapes, as the checks before the
    work build it (:func:`harfuse.preflight.dummy_model`, which this module cannot
    import: the preflight imports it)."""
    import torch

    from harfuse.fusion import create_model

    spec = config["train"]["variants"][variant]
    options = dict(spec.get("options") or {})
    if "backbone" in options:  # no weights file read: the size is the architecture's
        options["backbone"] = {**options["backbone"], "weights": "none"}
    shapes = {m: MODALITIES[m].dummy_shape(config, variant) for m in spec["modalities"]}
    with torch.device("meta"):
        model = create_model(spec["model"], shapes, num_classes, **options)
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def runs_stage(config: dict[str, Any], df: pd.DataFrame) -> StageBytes:
    """``model.pt`` of every run: the runnable variants x their splits x experiments."""
    available = available_modalities(df, config)
    splits = list(df.attrs.get("splits") or [])
    classes = int(df["label"].nunique()) if "label" in df else 2
    runs, total = 0, 0
    for name, spec in config["train"]["variants"].items():
        if not set(spec["modalities"]) <= available:
            continue  # skipped by the workflow
        count = len(variant_splits(config, name, splits)) * len(experiments(config, name))
        try:
            size = state_dict_bytes(config, name, classes)
        except (ValueError, TypeError, KeyError, RuntimeError):
            continue  # the checks before the work report the variant
        runs, total = runs + count, total + count * size
    how = "exact: model.pt, the state dict of each variant's model"
    return StageBytes("runs", runs, "runs", total, how)


def extrapolate(measured: Measured, items: float, samples: int) -> float:
    """Bytes of ``items`` (``samples`` samples) at the measured bytes per item, or per
    sample where the measurement holds no item (e.g. no audio track)."""
    if measured.items:
        return items * measured.size / measured.items
    return samples * measured.size / max(1, measured.samples)


def mean(values: Iterable[float]) -> float:
    """The mean of ``values``; 0 for none."""
    values = list(values)
    return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class Plan:
    """What :func:`estimate_disk` works from: the ``config``, the samples ``df`` (with
    ``shard``), the ``scratch`` folder, and the probe's sizes (``sample`` sources probed,
    ``measure`` of them stored, ``seed``, ``budget_s`` s per measurement)."""

    config: dict[str, Any]
    df: pd.DataFrame
    scratch: Path
    sample: int = PROBE_SOURCES
    measure: int = MEASURE_SOURCES
    seed: int = 0
    budget_s: float = TIME_BUDGET_S

    @property
    def shards(self) -> int:
        """Shard jobs per stage (each writes a shard, empty or not)."""
        return int(self.df["shard"].nunique())

    def overhead(self, stage: str, params: dict[str, Any], **attrs: str) -> int:
        """Bytes of the per-shard files of ``stage``, for every shard."""
        return self.shards * shard_overhead(stage, params, self.scratch, **attrs)


@dataclass(frozen=True)
class FrameProbe:
    """The frame sources (``rows``: ``sample_id -> path`` of the videos and images), the
    ``picked`` sample of them, their ``seconds`` (``sample_id -> (video, audio)`` s, the
    ones that opened) and ``counts`` (frames the frames stage stores of each)."""

    rows: pd.Series
    picked: pd.Series
    seconds: dict[str, tuple[float | None, float | None]]
    counts: dict[str, int]

    def items(self, per_source: Callable[[int], int] = lambda n: n) -> float:
        """Extrapolated over every source: the mean of ``per_source(frames)``."""
        return mean(per_source(n) for n in self.counts.values()) * len(self.rows)

    def probe(self, measured: int, seed: int, cap: float | None) -> Probe:
        """What was probed, for the output (``cap``: ``frames.max_duration_s``)."""
        videos = [min(v, cap) if cap is not None else v for v, _ in self.seconds.values() if v]
        failed = len(self.picked) - len(self.seconds)
        return Probe(len(self.rows), len(self.seconds), measured, seed, mean(videos), failed)


def probe_frames(plan: Plan) -> FrameProbe:
    """Durations of a seeded sample of the videos and images, and the frames stored of
    each; ``ValueError`` when none of them opens."""
    rows = sources(plan.df, ("video_path", "image_path"))
    picked = seeded_sample(rows, plan.sample, plan.seed)
    seconds = probe_durations(picked)
    if not seconds:
        raise ValueError(f"none of the {len(picked)} probed videos could be opened")
    frames = plan.config["frames"]
    counts = {sid: stored_frames(seconds[sid][0], picked[sid], frames) for sid in seconds}
    return FrameProbe(rows, picked, seconds, counts)


def frame_stages(
    plan: Plan, found: FrameProbe, modalities: set[str], sets: set[str]
) -> tuple[list[StageBytes], Probe]:
    """The frames stage, the flow stage (when a variant reads flow) and the features
    sets' stages, and the probe behind them."""
    frames = plan.config["frames"]
    measured = measure_frames(
        found.picked[list(found.seconds)][: plan.measure], frames, plan.scratch
    )
    items, sources_n = found.items(), len(found.rows)
    quality = f"JPEG q{frames['jpeg_quality']}" if frames["storage"] == "jpeg" else "raw + gzip"
    how = f"measured: {quality}, {measured.items} frames of {measured.samples} videos"
    total = plan.overhead("frames", frames) + extrapolate(measured, items, sources_n)
    stages = [StageBytes("frames", items, "frames", total, how)]
    if "flow" in modalities:
        pairs = found.items(lambda n: max(0, n - 1))
        stages.append(flow_stage(plan, measured, pairs, sources_n))
    by_shard = {
        int(k): [s for s in ids if s in found.rows.index]
        for k, ids in plan.df.groupby("shard")["sample_id"]
    }
    stages += [features_stage(plan.config, n, by_shard, plan.scratch) for n in sorted(sets)]
    return stages, found.probe(measured.samples, plan.seed, frames["max_duration_s"])


def flow_stage(plan: Plan, frames: Measured, pairs: float, videos: int) -> StageBytes:
    """The flow stage's ``pairs`` (of ``videos``) at the bytes per pair measured on the
    scratch frame shard ``frames``."""
    flow = plan.config["flow"]
    measured, what = measure_flow(frames.path, flow, plan.scratch, plan.budget_s)
    attrs = {FRAMES_PARAMS: encode_params(plan.config["frames"])}
    total = plan.overhead("flow", flow, **attrs) + extrapolate(measured, pairs, videos)
    how = f"measured: {what}, {measured.items} pairs, {flow['storage']} + gzip"
    return StageBytes(f"flow-{flow['method']}", pairs, "pairs", total, how)


def audio_stage(plan: Plan) -> StageBytes:
    """The audio stage: log-mel frames of the probed tracks' durations, at the bytes
    per frame measured on :data:`MEASURE_SOURCES` of them."""
    audio = plan.config["audio"]
    rows = sources(plan.df, ("audio_path",))
    picked = seeded_sample(rows, plan.sample, plan.seed)
    seconds = probe_durations(picked)
    items = mean(mel_frames(a, audio) for _, a in seconds.values()) * len(rows)
    measured = measure_audio(
        picked[list(seconds)][: plan.measure], audio, plan.scratch, plan.budget_s
    )
    total = plan.overhead("audio", audio) + extrapolate(measured, items, len(rows))
    how = f"measured: float16 + gzip, {measured.items} log-mel frames of {measured.samples} tracks"
    return StageBytes("audio", items, "mel frames", total, how)


def file_stage(plan: Plan, modality: str) -> StageBytes:
    """A modality the per-file stage writes (imu, skeleton, depth): bytes per sample
    measured on :data:`MEASURE_SOURCES` of its files."""
    unit = MODALITIES[modality]
    rows = sources(plan.df, unit.columns)
    picked = seeded_sample(rows, plan.measure, plan.seed)
    measured = measure_files(modality, picked, plan.config, plan.scratch, plan.budget_s)
    total = plan.overhead(modality, unit.stage_params(plan.config))
    total += extrapolate(measured, len(rows), len(rows))
    how = f"measured on {measured.samples} files"
    return StageBytes(modality, len(rows), "samples", total, how)


def pose_stage(plan: Plan, found: FrameProbe) -> StageBytes:
    """The pose stage (``skeleton.source: pose``): float16 keypoints and a uint8 flag per
    frame of the frames stage's timeline, uncompressed (an upper bound)."""
    from harfuse.pose.estimator import NUM_JOINTS

    per_frame = NUM_JOINTS * 4 * 2 + 1  # (x, y, z, visibility) float16 + detected uint8
    params = {"frames": plan.config["frames"], "skeleton": plan.config["skeleton"]}
    items = found.items()
    total = plan.overhead("pose", params) + items * per_frame
    how = f"upper bound: {NUM_JOINTS} joints x 4 float16 per frame, uncompressed"
    return StageBytes("pose", items, "frames", total, how)


def media_stages(plan: Plan) -> tuple[list[StageBytes], Probe]:
    """Every stage writing shards that the runnable variants need, and the probe of the
    frame sources (an empty one when no stage reads them)."""
    config = plan.config
    modalities, sets = used_outputs(config, plan.df)
    pose = "skeleton" in modalities and config["skeleton"]["source"] == "pose"
    stages: list[StageBytes] = []
    probe = Probe(len(sources(plan.df, ("video_path", "image_path"))), 0, 0, plan.seed, 0.0)
    if modalities & {"rgb", "flow"} or pose:
        found = probe_frames(plan)
        probe = found.probe(0, plan.seed, config["frames"]["max_duration_s"])
        if modalities & {"rgb", "flow"}:
            stages, probe = frame_stages(plan, found, modalities, sets)
        if pose:
            stages.append(pose_stage(plan, found))
    if "audio" in modalities:
        stages.append(audio_stage(plan))
    stages += [file_stage(plan, m) for m in file_modalities(config) if m in modalities]
    return stages, probe


def estimate_disk(
    config: dict[str, Any],
    manifest: pd.DataFrame | None = None,
    results: str | Path | None = None,
    sample: int = PROBE_SOURCES,
    measure: int = MEASURE_SOURCES,
    seed: int = 0,
    budget_s: float = TIME_BUDGET_S,
) -> DiskEstimate:
    """The bytes each stage of the workflow will write for the validated ``config``:
    on the ``manifest`` (default: ``results/manifest.parquet``, else a scan of the
    dataset), with ``results`` the run's ``results/{dataset}`` folder (relative to the
    working directory, as the workflow's). ``sample`` sources are probed for their
    durations and ``measure`` of them stored, drawn with ``seed``; each measurement
    stops after ``budget_s`` s (one sample at least)."""
    results = Path(results) if results else Path("results") / config["dataset"]["name"]
    df = manifest if manifest is not None else dataset_samples(config, results)
    with tempfile.TemporaryDirectory(prefix="harfuse-plan-") as tmp:
        plan = Plan(config, df, Path(tmp), sample, measure, seed, budget_s)
        stages, probe = media_stages(plan)
    stages.append(runs_stage(config, df))
    stages = [replace(s, present=folder_bytes(results / s.stage)) for s in stages]
    free, at = free_space(results)
    return DiskEstimate(
        config["dataset"]["name"],
        str(results),
        len(df),
        plan.shards,
        probe,
        tuple(stages),
        free,
        str(at),
    )


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """``rows`` as aligned text columns (the last one left ragged)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return [
        "  ".join([*(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)), r[-1]]).rstrip()
        for r in rows
    ]


def render(estimate: DiskEstimate) -> str:
    """The estimate as ``harfuse plan`` prints it: the probe, one row per stage (items,
    bytes per item, estimate, how), the total, the free space and, when it is short, the
    warning."""
    e, p = estimate, estimate.probe
    lines = [f"harfuse plan: dataset {e.dataset}, {e.samples} samples in {e.shards} shards"]
    if p.probed:
        lines.append(
            f"probed: durations of {p.probed} of {p.sources} videos and images (seed {p.seed}; "
            f"mean {p.mean_seconds:.2f} s as the frames stage caps them), {p.measured} of them "
            "decoded and stored to measure bytes per item"
            + (f"; {p.unreadable} could not be opened" if p.unreadable else "")
        )
    rows = [("stage", "items", "per item", "estimate", "how")]
    rows += [
        (s.stage, f"{s.items:,.0f} {s.unit}", human_bytes(s.per_item), human_bytes(s.total), s.how)
        for s in e.stages
    ]
    rows.append(("total", "", "", human_bytes(e.total), ""))
    lines += _table(rows)
    present = sum(s.present for s in e.stages)
    lines.append(
        f"already under {e.results}: {human_bytes(present)}; still to write: "
        f"{human_bytes(e.needed)}; free at {e.free_at}: {human_bytes(e.free)}"
    )
    warning = shortfall(estimate)
    return "\n".join([*lines, *([warning] if warning else [])]) + "\n"


def shortfall(estimate: DiskEstimate) -> str | None:
    """A one-line WARNING when the bytes still to write exceed the free space, naming the
    largest stages and what lowers them; None otherwise."""
    e = estimate
    if not e.short:
        return None
    largest = sorted(e.stages, key=lambda s: s.needed, reverse=True)[:3]
    parts = ", ".join(f"{s.stage} {human_bytes(s.needed)}" for s in largest)
    return (
        f"WARNING: the run will write about {human_bytes(e.needed)} under {e.results} "
        f"({parts}), but only {human_bytes(e.free)} is free at {e.free_at}: free space or "
        "move results/, or lower frames.size, frames.fps or frames.max_duration_s"
    )
