"""Name the activity in a video file with a trained model directory.

A model directory is what the workflow's train stage writes for every run
(``results/{dataset}/runs/{variant}/{split}/{experiment}/``): ``model.pt`` (a state dict,
loaded with ``torch.load(weights_only=True)``) and ``model.json`` (model name, options,
class names, per-modality input shapes, IMU normalisation, and the config sections of
the preprocessing, as the input shards recorded it). Prediction runs the stages' own
functions (:mod:`harfuse.preprocess`, :mod:`harfuse.encoders.extract`): frames with their
storage round trip, the frozen-encoder features, optical flow as stored, the log-mel
spectrogram (a video without an audio track is silence, as in training).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from harfuse.device import resolve_device
from harfuse.encoders.extract import frozen_encoder
from harfuse.fusion import Classifier, create_model
from harfuse.media.decode import DecodeError, iter_frames_at_fps, open_media, read_audio
from harfuse.media.encode import write_video
from harfuse.modalities.base import Context
from harfuse.modalities.registry import MODALITIES
from harfuse.pose.estimator import JOINT_FORMAT as POSE_JOINT_FORMAT
from harfuse.pose.overlay import draw_skeleton
from harfuse.preprocess.frames import as_stored, select_frames, video_frames
from harfuse.preprocess.skeleton import LOW_COVERAGE, estimator_params, pose_frames
from harfuse.skeleton.formats import format_for_joints, joint_format
from harfuse.store.atomic import atomic_path
from harfuse.store.run_dir import RunDir, RunError
from harfuse.train.loop import autocast

log = logging.getLogger(__name__)


class PredictError(RuntimeError):
    """A model directory or a video that prediction cannot use; the message says which
    file and why."""


class NoPersonError(PredictError):
    """A segment in which the pose estimator sees nobody: a skeleton model has no input."""


@dataclass
class TrainedModel:
    """A trained variant, ready to predict: the classifier, its description and, for
    rgb, the frozen encoder that made its features."""

    directory: Path
    model: Classifier
    description: dict[str, Any]
    device: torch.device
    encoder: torch.nn.Module | None = None

    @property
    def classes(self) -> list[str]:
        return self.description["classes"]

    @property
    def modalities(self) -> list[str]:
        return self.description["modalities"]

    @property
    def preprocessing(self) -> dict[str, Any]:
        return self.description["preprocessing"]

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto") -> TrainedModel:
        """Load ``directory`` to predict from media files; :class:`PredictError` names a
        missing or unusable file, or a model that a video cannot feed."""
        directory = Path(directory)
        description, state = read_run(directory)
        prep = description.get("preprocessing") or {}
        backbone = description["options"].get("backbone")
        if "skeleton" in description["modalities"]:
            source = (prep.get("skeleton") or {}).get("source")
            if source not in (None, "pose"):
                joints = description["shapes"]["skeleton"][2]
                raise PredictError(
                    f"{directory}: trained on the dataset's own skeletons ({joints} joints, "
                    f"{format_for_joints(joints).name}); a video gives keypoints estimated "
                    f"by the pose stage ({POSE_JOINT_FORMAT}, another joint format): retrain "
                    "with skeleton.source: pose to predict from videos"
                )
        for m in description["modalities"]:
            modality = MODALITIES[m]
            needed = modality.sections(description["options"]) if modality.video else ()
            lacking = [s for s in needed if s not in prep]
            if lacking:
                raise PredictError(
                    f"{directory / 'model.json'}: no {', '.join(lacking)} preprocessing "
                    f"for modality {m}; retrain the run with this version of harfuse"
                )
        dev = resolve_device(device)
        model = build_classifier(description, state).to(dev).eval()
        frozen = "rgb" in description["shapes"] and not backbone
        encoder = frozen_encoder(prep["features"], dev).eval() if frozen else None
        return cls(directory, model, description, dev, encoder)


def read_run(directory: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """A run folder's ``model.json`` and ``model.pt`` (state dict, on the CPU);
    :class:`PredictError` names a missing or unreadable file."""
    run = RunDir(directory)
    try:
        return run.description(), run.state()
    except RunError as exc:
        raise PredictError(
            f"{exc}; --model takes a run folder of the workflow "
            "(results/DATASET/runs/VARIANT/SPLIT/EXPERIMENT)"
        ) from exc


def build_classifier(description: dict[str, Any], state: dict[str, torch.Tensor]) -> Classifier:
    """The trained classifier of a run (``model.json``'s description, ``model.pt``'s
    state), on the CPU. A fine-tuned backbone is built without its pretrained file:
    ``state`` holds every weight."""
    options = dict(description["options"])
    if options.get("backbone"):
        options["backbone"] = {**options["backbone"], "weights": "none"}
    shapes = {m: tuple(s) for m, s in description["shapes"].items()}
    model = create_model(description["model"], shapes, len(description["classes"]), **options)
    model.load_state_dict(state)
    return model


@dataclass
class Media:
    """One video decoded for a model: frames at the model's ``frames.fps`` (as the
    frames stage stored them), the same frames at the pose estimator's resolution (as the
    pose stage decodes them) and the mono audio track at ``audio.sample_rate``."""

    path: Path
    duration_s: float
    frames: np.ndarray | None = None  # (T, H, W, 3) uint8 RGB
    fps: float = 0.0
    wave: np.ndarray | None = None  # (S,) float32
    pose_frames: np.ndarray | None = None  # (T, H', W', 3) uint8 RGB


def load_media(path: str | Path, trained: TrainedModel) -> Media:
    """Decode what ``trained`` needs from ``path``; :class:`DecodeError` /
    :class:`PredictError` say why a file cannot be used."""
    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    prep = trained.preprocessing
    decoded = {MODALITIES[m].video: m for m in trained.modalities}
    if None in decoded:
        raise PredictError(
            f"{path}: model {trained.description['variant']} needs {decoded[None]}, which a "
            "video file does not have"
        )
    media = Media(path, 0.0)
    if "frames" in prep:
        cfg = prep["frames"]
        media.fps = float(cfg["fps"])
        if "frames" in decoded:
            frames, _ = video_frames(path, cfg, every_frame=True)  # num_frames: per segment
            media.frames = as_stored(frames, cfg)
        if "pose_frames" in decoded:
            media.pose_frames = pose_frames(path, cfg, prep["skeleton"], every_frame=True)
        seen = media.frames if media.frames is not None else media.pose_frames
        media.duration_s = len(seen) / media.fps
    if "wave" in decoded:
        rate = prep["audio"]["sample_rate"]
        wave = read_audio(path, rate)
        # no audio track is silence, as the audio stage stores it for training
        media.wave = np.zeros(0, np.float32) if wave is None else wave
        if media.frames is None:
            media.duration_s = len(media.wave) / rate
    return media


def segment_inputs(
    trained: TrainedModel, media: Media, start_s: float = 0.0, end_s: float | None = None
) -> tuple[dict[str, np.ndarray], float | None]:
    """The model's inputs for ``[start_s, end_s)`` of ``media`` (``end_s=None``: the
    whole video, every frame and all of the audio, as the workflow takes it), one array
    per modality fitted exactly as the training data were (without the batch axis), and
    the segment's pose coverage (the fraction of its frames in which the estimator found
    a person; None without a skeleton). The segment's frames are taken at ``fps`` and
    then thinned to ``num_frames`` as the frames stage does; a segment reaching the end of
    the video takes the audio to its end."""
    prep, inputs = trained.preprocessing, trained.description["inputs"]

    def segment(frames: np.ndarray | None) -> np.ndarray | None:
        if frames is None:
            return None
        if end_s is not None:
            a = min(int(np.ceil(start_s * media.fps - 1e-9)), len(frames) - 1)
            b = max(int(np.ceil(end_s * media.fps - 1e-9)), a + 1)
            frames = frames[a:b]
        return select_frames(frames, prep["frames"])

    raw = {"frames": segment(media.frames), "pose_frames": segment(media.pose_frames)}
    if media.wave is not None:
        raw["wave"] = wave_segment(media, prep["audio"]["sample_rate"], start_s, end_s)
    context = Context(
        device=str(trained.device),
        source=str(media.path),
        fps=media.fps,
        encoder=trained.encoder,
        backbone=trained.description["options"].get("backbone"),
    )
    out: dict[str, np.ndarray] = {}
    coverage = None
    for m in trained.modalities:
        modality = MODALITIES[m]
        try:
            stored = modality.stored(raw[modality.video], prep, context)
        except ValueError as exc:  # the pose estimator saw nobody in the segment
            if m != "skeleton":
                raise
            raise NoPersonError(str(exc)) from exc
        out[m] = modality.model_input(stored, inputs)
        coverage = stored[m][1].get("coverage", coverage)
    return out, coverage


def wave_segment(media: Media, rate: int, start_s: float, end_s: float | None) -> np.ndarray:
    """The audio of ``[start_s, end_s)`` of ``media`` at ``rate`` Hz (``end_s=None``, or a
    segment reaching the end of the video: to the end of the audio)."""
    if end_s is None:
        return media.wave
    a = int(start_s * rate)
    if end_s >= media.duration_s - 1e-9:
        return media.wave[a:]
    return media.wave[a : max(int(end_s * rate), a + 1)]


@torch.no_grad()
def class_probabilities(
    trained: TrainedModel, inputs: Sequence[dict[str, np.ndarray]]
) -> np.ndarray:
    """Softmax probabilities ``(N, K)`` for ``N`` input dicts (bf16 autocast on CUDA, as
    the train stage's test predictions)."""
    batch = {
        m: torch.from_numpy(np.stack([x[m] for x in inputs])).to(trained.device) for m in inputs[0]
    }
    with autocast(trained.device):
        scores = trained.model(batch)
    return scores.float().softmax(-1).cpu().numpy()


def window_problem(window_s: float, stride_s: float | None) -> str | None:
    """What is wrong with a ``--window`` / ``--stride`` pair (None for the stride: the
    window's), or None."""
    stride_s = window_s if stride_s is None else stride_s
    if window_s <= 0 or stride_s <= 0:
        return f"--window and --stride must be > 0 s, got {window_s}, {stride_s}"
    if stride_s > window_s:
        return f"--stride {stride_s} s > --window {window_s} s would leave gaps"
    return None


def segments(duration_s: float, window_s: float, stride_s: float) -> list[tuple[float, float]]:
    """``[start, end)`` windows every ``stride_s`` covering ``[0, duration_s]``; the last
    one ends at the end of the video (it starts earlier when a full window fits)."""
    problem = window_problem(window_s, stride_s)
    if problem:
        raise PredictError(problem)
    if duration_s <= window_s:
        return [(0.0, duration_s)]
    out = []
    start = 0.0
    while start + window_s < duration_s - 1e-9:
        out.append((start, start + window_s))
        start += stride_s
    out.append((max(0.0, duration_s - window_s), duration_s))
    return out


@dataclass
class Prediction:
    """Class probabilities of a whole video and, with a window, of each segment."""

    path: Path
    classes: list[str]
    duration_s: float
    probs: np.ndarray  # (K,)
    timeline: list[tuple[float, float, np.ndarray]] = field(default_factory=list)
    #: the fraction of the video's frames in which the pose estimator found a person
    #: (None: the model reads no skeleton); under LOW_COVERAGE the answer is low-confidence
    pose_coverage: float | None = None
    #: windows left out of the timeline: nobody seen in them
    left_out: list[tuple[float, float]] = field(default_factory=list)

    @property
    def low_confidence(self) -> bool:
        """Whether the answer rests on keypoints found in too few frames."""
        return self.pose_coverage is not None and self.pose_coverage < LOW_COVERAGE

    def top(self, k: int, probs: np.ndarray | None = None) -> list[tuple[str, float]]:
        """The ``k`` most probable ``(label, probability)``, best first."""
        p = self.probs if probs is None else probs
        order = np.argsort(-p, kind="stable")[:k]
        return [(self.classes[i], float(p[i])) for i in order]

    def label_at(self, t: float) -> tuple[str, float]:
        """The top label at time ``t``: of the segment whose centre is nearest, or of the
        whole video without a timeline."""
        if not self.timeline:
            return self.top(1)[0]
        _, _, p = min(self.timeline, key=lambda s: abs((s[0] + s[1]) / 2 - t))
        return self.top(1, p)[0]


def predict_video(
    trained: TrainedModel,
    path: str | Path,
    window_s: float | None = None,
    stride_s: float | None = None,
    batch_size: int = 16,
) -> Prediction:
    """Predict the whole video and, with ``window_s``, each segment of the timeline. A
    segment a skeleton model cannot read (nobody seen in it) is left out of the timeline
    (one warning line counts them); the whole video's prediction stands. A skeleton
    model's answer records its pose coverage, and warns when it is low-confidence."""
    media = load_media(path, trained)
    inputs, coverage = segment_inputs(trained, media)
    whole = class_probabilities(trained, [inputs])
    prediction = Prediction(Path(path), trained.classes, media.duration_s, whole[0])
    prediction.pose_coverage = coverage
    if prediction.low_confidence:
        log.warning(
            "%s: a person in %.0f%% of its frames (under %.0f%%): the answer is low-confidence",
            path,
            100 * coverage,
            100 * LOW_COVERAGE,
        )
    if window_s is not None:
        spans = segments(media.duration_s, window_s, stride_s or window_s)
        for i in range(0, len(spans), batch_size):
            chunk, batch = [], []
            for a, b in spans[i : i + batch_size]:
                try:
                    batch.append(segment_inputs(trained, media, a, b)[0])
                except NoPersonError:
                    prediction.left_out.append((a, b))
                    continue
                chunk.append((a, b))
            if not chunk:
                continue
            probs = class_probabilities(trained, batch)
            prediction.timeline += [(a, b, p) for (a, b), p in zip(chunk, probs, strict=True)]
        if prediction.left_out:  # one line, however many windows
            a, b = prediction.left_out[0]
            log.warning(
                "%s: %d of %d windows left out of the timeline, no person seen in them "
                "(the first: %.2f s - %.2f s)",
                path,
                len(prediction.left_out),
                len(spans),
                a,
                b,
            )
    return prediction


def _annotated(
    path: Path, prediction: Prediction, fps: float, skeleton: dict[str, Any] | None = None
) -> Iterator[np.ndarray]:
    import cv2

    estimator = None
    if skeleton is not None:  # the model reads estimated keypoints: draw them
        from harfuse.pose.estimator import shared_estimator

        estimator = shared_estimator(**estimator_params(skeleton))
        estimator.reset()
        bones = joint_format(POSE_JOINT_FORMAT).edges
    for t, rgb in iter_frames_at_fps(path, fps):
        h, w = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2  # H.264 4:2:0 needs even sizes
        frame = rgb[:h, :w].copy()  # drawn on; the decoder's array is read-only and shared
        if estimator is not None:
            joints, seen = estimator.process_frame(frame, t + 1 / fps)  # times start above 0
            frame = draw_skeleton(frame, joints, seen, bones)
        label, p = prediction.label_at(t)
        scale = max(h / 400, 0.35)
        text = f"{label} {p:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(frame, (0, 0), (tw + 8, th + base + 8), (0, 0, 0), -1)
        cv2.putText(
            frame,
            text,
            (4, th + 4),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
        yield frame


#: overlay file extension -> container (the video is H.264 in each)
OVERLAY_FORMATS = {".mp4": "mp4", ".mkv": "matroska", ".mov": "mov", ".avi": "avi"}


def write_overlay(
    path: str | Path,
    prediction: Prediction,
    out: str | Path,
    skeleton: dict[str, Any] | None = None,
) -> None:
    """``out``: the video at its own frame rate (H.264), with the top label and its
    probability drawn in the top-left corner (per segment with a timeline). With
    ``skeleton`` (the ``skeleton`` preprocessing of a model that reads estimated
    keypoints), each frame's keypoints and bones are drawn too."""
    path = Path(path)
    with open_media(path) as container:
        if not container.streams.video:
            raise DecodeError(f"{path}: no video stream")
        rate = container.streams.video[0].average_rate
    fps = float(rate) if rate else 25.0
    out = Path(out)
    container = OVERLAY_FORMATS.get(out.suffix.lower())
    if container is None:
        raise PredictError(f"{out}: overlay must end in one of {', '.join(OVERLAY_FORMATS)}")
    with atomic_path(out) as tmp:
        frames = _annotated(path, prediction, fps, skeleton)
        write_video(tmp, frames, fps, container_format=container, qp=20)
