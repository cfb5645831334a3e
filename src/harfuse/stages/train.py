"""Stage ``train``: train one variant on one split and evaluate it on that split's test set."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from harfuse.data.dataset import MultiModalDataset
from harfuse.device import resolve_device
from harfuse.encoders.finetune import copy_backbone
from harfuse.environment import describe
from harfuse.fusion import Classifier, create_model
from harfuse.modalities.imu import imu_channel_stats, standardised
from harfuse.modalities.registry import MODALITIES
from harfuse.plan import merged_params
from harfuse.runlog import DataError
from harfuse.store.manifest import read_manifest
from harfuse.store.quarantine import quarantine_path, read_quarantine, write_quarantine
from harfuse.store.recorded import recorded_preprocessing
from harfuse.store.run_dir import RunDir
from harfuse.train.loop import TrainParams, job_workers, predict, train_model
from harfuse.train.metrics import classification_metrics, top_k_accuracy
from harfuse.train.splits import hidden_classes, ratio_pick, stratified_pick

log = logging.getLogger(__name__)


def build_sources(
    shards: dict[str, list[str]],
    inputs: dict[str, Any],
    backbone: dict[str, Any] | None = None,
    train: bool = False,
    cache_mb: int = 0,
) -> dict[str, Callable[[str], np.ndarray]]:
    """One source per modality (:meth:`~harfuse.modalities.base.Modality.source`) from its
    shard paths and the ``inputs`` options (IMU unnormalised: :func:`normalise_imu`
    standardises it once the training rows are known), sharing ``cache_mb`` MiB of kept
    model inputs evenly among the modalities that keep them (``train.params.cache_mb``).
    With ``backbone`` (``options.backbone``), rgb is clips from the frame shards, never
    kept: sampled at random for training (``train``), the centre clip(s) otherwise."""
    keeping = [m for m in shards if MODALITIES[m].keeps_inputs(backbone)]
    each = cache_mb * 2**20 // max(len(keeping), 1)
    return {
        m: MODALITIES[m].source(paths, inputs, backbone, train, cache_bytes=each)
        for m, paths in sorted(shards.items())
    }


def experiment_rows(
    train_rows: pd.DataFrame, experiment: dict[str, Any], seed: int
) -> pd.DataFrame:
    """The training rows an experiment uses: all of them, or a stratified ``ratio``."""
    ratio = experiment.get("ratio", 1.0)
    if ratio >= 1.0:
        return train_rows
    return train_rows[ratio_pick(train_rows["label_idx"].to_numpy(), ratio, seed)]


@dataclass(frozen=True)
class Rows:
    """The manifest rows of one run: ``pool`` (the training-split rows the experiment
    uses) split into ``train`` and held-out ``val``; ``test``; and ``missing``, the
    quarantine rows of samples lacking a modality."""

    pool: pd.DataFrame
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    missing: list[dict[str, str]]


def select_rows(
    df: pd.DataFrame,
    sources: dict[str, Callable[[str], np.ndarray]],
    split: str,
    experiment: dict[str, Any],
    params: TrainParams,
) -> Rows:
    """Rows with every modality of ``sources``, split by ``split``'s column, the
    experiment's share of the training rows, and a stratified validation hold-out."""
    missing = [
        {"sample_id": s, "stage": "train", "reason": f"no {m} for {s} (quarantined upstream)"}
        for s in df["sample_id"]
        for m, src in sources.items()
        if s not in src
    ]
    usable = df[~df["sample_id"].isin({r["sample_id"] for r in missing})]
    pool_rows, test_rows = (usable[usable[split] == part] for part in ("train", "test"))
    pool_rows = experiment_rows(pool_rows, experiment, params.seed)
    held_out = stratified_pick(
        pool_rows["label_idx"].to_numpy(), params.val_fraction, params.seed, True
    )
    return Rows(pool_rows, pool_rows[~held_out], pool_rows[held_out], test_rows, missing)


def no_samples_message(
    variant: str,
    split: str,
    manifest: pd.DataFrame,
    rows: Rows,
    shards: dict[str, list[str]],
) -> str:
    """Why a run has no training or no test sample: per modality of the variant, how many
    of the split's samples lack it and the first reason its stage gave (from the shards'
    quarantine sidecars), as the data check would say it."""
    in_split = manifest[manifest[split].isin(["train", "test"])]
    lines = [
        f"variant {variant}, split {split}: {len(rows.train)} training and {len(rows.test)} "
        f"test samples have every modality of the variant ({', '.join(sorted(shards))})"
    ]
    for m, paths in sorted(shards.items()):
        lacking = {r["sample_id"] for r in rows.missing if r["reason"].startswith(f"no {m} ")}
        n = int(in_split["sample_id"].isin(lacking).sum())
        if not n:
            continue
        reasons = read_quarantine(p for p in map(quarantine_path, paths) if p.exists())
        first = f"; the first reason: {reasons['reason'].iloc[0]}" if len(reasons) else ""
        lines.append(
            f"{m}: {n} of the split's {len(in_split)} samples have none (its stage "
            f"quarantined them{first}); see the quarantine tables (harfuse inspect)"
        )
    return "\n".join(lines)


def lacking_in_test(
    manifest: pd.DataFrame,
    test: pd.DataFrame,
    sources: dict[str, Callable[[str], np.ndarray]],
    split: str,
) -> dict[str, dict[str, int]]:
    """For each modality of the run, how many of ``split``'s test samples lacked it
    (``metrics.json``'s ``test_lacking``; each modality counted on its own):

    - ``missing``: test samples of the manifest with no entry in the modality's shards (no
      file, or a stage quarantined it): left out of the run's test set (quarantine rows);
    - ``no_track`` (audio only): samples of the run's test set ``test`` whose audio is
      stored with ``has_audio`` False (no audio track, or an empty one): evaluated, and the
      model read them as silence, the same input for every one of them.
    """
    ids = manifest.loc[manifest[split] == "test", "sample_id"]
    lacking = {m: {"missing": int(sum(s not in src for s in ids))} for m, src in sources.items()}
    if "audio" in sources:
        audio = sources["audio"]  # a SampleShardSource: its attrs read without the arrays
        lacking["audio"]["no_track"] = sum(
            not bool(audio.attrs(s, "audio").get("has_audio", True)) for s in test["sample_id"]
        )
    return lacking


def normalise_imu(
    sources: dict[str, Callable[[str], np.ndarray]], train_ids: list[str]
) -> dict[str, Any]:
    """Replace the IMU source by the same one standardised with the training rows'
    channel mean and std; returns ``{"imu": {"mean", "std"}}`` for ``model.json`` (empty
    without IMU)."""
    if "imu" not in sources:
        return {}
    mean, std = imu_channel_stats(sources["imu"], train_ids)
    sources["imu"] = standardised(sources["imu"], mean, std)
    return {"imu": {"mean": mean.tolist(), "std": std.tolist()}}


def hidden_experiment(
    rows: Rows, experiment: dict[str, Any], seed: int
) -> tuple[list[int], dict[str, Any]]:
    """The classes a hidden-class experiment withholds (present in both training and test
    rows) and the model option that withholds them; nothing for other experiments."""
    if "hidden" not in experiment:
        return [], {}
    both = set(rows.train["label_idx"]) & set(rows.test["label_idx"])
    hidden = hidden_classes([int(c) for c in both], experiment["count"], seed)
    return hidden, {"hidden_classes": {experiment["hidden"]: hidden}}


def absent_classes(
    manifest: pd.DataFrame, test: pd.DataFrame, split: str, classes: list[str]
) -> dict[str, str]:
    """``{class: why}`` for each class with no sample in the run's test set ``test``:
    either the split tests none of it, or every one of its test samples lacked a modality
    of the run (quarantined upstream)."""
    in_split = manifest.loc[manifest[split] == "test", "label"].value_counts()
    evaluated = set(test["label"])
    return {
        name: (
            f"all {in_split[name]} of its test samples lack a modality of the run"
            if in_split.get(name, 0)
            else "no test sample in the split"
        )
        for name in classes
        if name not in evaluated
    }


def test_set_warnings(
    probs: np.ndarray,
    manifest: pd.DataFrame,
    test: pd.DataFrame,
    split: str,
    classes: list[str],
    variant: str,
) -> dict[str, Any]:
    """What a reader of the metrics must know about the test set, for ``metrics.json``
    and as log warnings: ``classes_without_test`` (:func:`absent_classes`) and, when the
    model predicts one class for every test sample, ``predicts_one_class``."""
    found: dict[str, Any] = {"classes_without_test": absent_classes(manifest, test, split, classes)}
    absent = found["classes_without_test"]
    if absent:
        log.warning(
            "%s on %s: no test sample of %s; macro-F1 and mean-class accuracy count %s 0",
            variant,
            split,
            "; ".join(f"{c} ({why})" for c, why in absent.items()),
            "it" if len(absent) == 1 else "each",
        )
    predicted = np.unique(probs.argmax(1))
    if len(probs) > 1 and len(classes) > 1 and len(predicted) == 1:
        found["predicts_one_class"] = classes[int(predicted[0])]
        log.warning(
            "%s on %s: predicts %s for all %d test samples",
            variant,
            split,
            found["predicts_one_class"],
            len(probs),
        )
    return found


def evaluate(
    probs: np.ndarray, labels: np.ndarray, hidden: list[int], classes: list[str]
) -> dict[str, Any]:
    """Classification metrics of test probabilities ``(N, K)`` (per-class means over all
    ``K`` classes); for a hidden-class run also top-1 on the withheld and on the seen
    classes."""
    metrics = classification_metrics(probs, labels)
    if hidden:
        is_hidden = np.isin(labels, hidden)
        metrics["hidden_classes"] = [classes[i] for i in hidden]
        metrics["top1_hidden"] = top_k_accuracy(probs[is_hidden], labels[is_hidden], 1)
        metrics["top1_seen"] = top_k_accuracy(probs[~is_hidden], labels[~is_hidden], 1)
    return metrics


def predictions_table(
    test_rows: pd.DataFrame, probs: np.ndarray, classes: list[str]
) -> pd.DataFrame:
    """``predictions.parquet``'s rows: sample, label, predicted class and one probability
    column per class."""
    predictions = pd.DataFrame(
        {
            "sample_id": test_rows["sample_id"].to_numpy(),
            "label_idx": test_rows["label_idx"].to_numpy(),
            "pred_idx": probs.argmax(1),
        }
    )
    predictions[[f"prob_{c}" for c in classes]] = probs
    return predictions


@dataclass(frozen=True)
class Job:
    """One training job: ``variant`` (``spec``) on ``split`` under ``experiment``."""

    variant: str
    spec: dict[str, Any]
    split: str
    experiment: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.variant} on {self.split} ({self.experiment['name']})"

    def described(self) -> dict[str, Any]:
        """``model.json``'s keys about the job."""
        return {
            "variant": self.variant,
            "model": self.spec["model"],
            "modalities": self.spec["modalities"],
            "features": self.spec.get("features"),
            "split": self.split,
            "experiment": self.experiment,
        }

    def metrics(
        self,
        metrics: dict[str, Any],
        sizes: list[int],
        dropped: int,
        lacking: dict[str, dict[str, int]],
        history: list[dict],
        threads: int,
    ) -> dict[str, Any]:
        """``metrics.json``: the test ``metrics``, the job, the train / validation / test
        ``sizes``, the split's test samples ``dropped`` for lacking a modality, ``lacking``
        (:func:`lacking_in_test`), the training ``history`` and where it ran."""
        experiment = self.experiment
        return {
            **metrics,
            "variant": self.variant,
            "modalities": self.spec["modalities"],
            "split": self.split,
            "experiment": experiment["name"],
            # fraction of the training split used; None for hidden-class runs (not in the sweep)
            "ratio": None if "hidden" in experiment else experiment.get("ratio", 1.0),
            **dict(zip(("n_train", "n_val", "n_test"), sizes, strict=True)),
            "n_test_dropped": dropped,
            "test_lacking": lacking,
            "history": history,
            # floating-point results hold for this machine, these versions, this thread count
            "environment": describe(),
            "torch_threads": threads,
        }


def build_model(
    job: Job,
    shapes: dict[str, tuple[int, ...]],
    num_classes: int,
    rows: Rows,
    params: TrainParams,
    init: str | Path | None,
) -> tuple[Classifier, dict[str, Any], list[int]]:
    """The job's model (seeded; its backbone copied from the run ``init`` names), the
    options it was built with (a hidden-class experiment's added) and the hidden classes.
    :class:`DataError` when it tunes on held-out data but the job holds none out."""
    hidden, hidden_option = hidden_experiment(rows, job.experiment, params.seed)
    options = {**(job.spec.get("options") or {}), **hidden_option}
    torch.manual_seed(params.seed)  # model init is part of the seeded run
    model = create_model(job.spec["model"], shapes, num_classes, **options)
    if init is not None:
        # here, not at the top: predict imports video decoding and drawing (cv2, av), half
        # a second of every training job's start that only a backbone's source needs
        from harfuse.predict import build_classifier, read_run

        copy_backbone(build_classifier(*read_run(Path(init).parent)), model)
        log.info("%s: backbone starts from %s", job.variant, init)
    if model.needs_validation and rows.val.empty:
        raise DataError(
            f"variant {job.variant} ({job.experiment['name']}) tunes on held-out predictions, "
            f"but train.params.val_fraction {params.val_fraction} of its {len(rows.pool)} "
            "training samples leaves no validation sample (a class's last sample stays in "
            "training); raise val_fraction or use more training data"
        )
    return model, options, hidden


def prepare_data(
    job: Job,
    manifest: pd.DataFrame,
    shards: dict[str, list[str]],
    inputs: dict[str, Any],
    params: TrainParams,
) -> tuple[Rows, dict, dict, tuple[MultiModalDataset, ...]]:
    """The job's rows, what its test samples lack (:func:`lacking_in_test`), the IMU
    normalisation (:func:`normalise_imu`) and its training, validation and test datasets;
    :class:`DataError` when it has no training or no test sample."""
    backbone = (job.spec.get("options") or {}).get("backbone")
    sources = build_sources(shards, inputs, backbone, cache_mb=params.cache_mb)
    rows = select_rows(manifest, sources, job.split, job.experiment, params)
    if rows.train.empty or rows.test.empty:
        raise DataError(no_samples_message(job.variant, job.split, manifest, rows, shards))
    lacking = lacking_in_test(manifest, rows.test, sources, job.split)
    normalisation = normalise_imu(sources, list(rows.train["sample_id"]))
    return rows, lacking, normalisation, run_datasets(rows, sources, shards, backbone)


def input_preprocessing(
    shards: dict[str, list[str]], backbone: dict[str, Any] | None
) -> dict[str, dict[str, Any]]:
    """What the model sees: the preprocessing its input shards (by modality) were made
    with, by config section (checked to agree; a fine-tuned backbone reads the frames)."""
    by_section = {
        "frames" if m == "rgb" and backbone else MODALITIES[m].section: paths
        for m, paths in shards.items()
    }
    frames_from = {MODALITIES[m].section for m in shards if MODALITIES[m].from_frames}
    return recorded_preprocessing(by_section, frames_from)


def run_datasets(
    rows: Rows,
    sources: dict[str, Callable[[str], np.ndarray]],
    shards: dict[str, list[str]],
    backbone: dict[str, Any] | None,
) -> tuple[MultiModalDataset, MultiModalDataset, MultiModalDataset]:
    """The training, validation and test datasets of a run; with a fine-tuned
    ``backbone``, training reads random clips and the others the centre ones."""
    train_sources = sources
    if backbone is not None:
        clips = MODALITIES["rgb"].source(shards["rgb"], {}, backbone, train=True)
        train_sources = {**sources, "rgb": clips}
    train_data, val_data, test_data = (
        MultiModalDataset(r["sample_id"], r["label_idx"], s)
        for r, s in ((rows.train, train_sources), (rows.val, sources), (rows.test, sources))
    )
    return train_data, val_data, test_data


def run(
    manifest_path: str | Path,
    classes_path: str | Path,
    shards: dict[str, list[str]],
    variant: str,
    spec: dict[str, Any],
    split: str,
    experiment: dict[str, Any],
    train: dict[str, Any],
    inputs: dict[str, Any],
    device: str,
    out_dir: str | Path,
    init: str | Path | None = None,
) -> None:
    """Train variant ``variant`` (``spec``: ``model``, ``modalities``, ``options``) on split
    ``split`` under ``experiment`` (``name``; ``ratio`` = fraction of the training split
    used; ``hidden`` + ``count`` = classes withheld from that modality's stage-1 training)
    and write its run folder ``out_dir`` (:class:`~harfuse.store.run_dir.RunDir`;
    ``metrics.json``: :meth:`Job.metrics`). ``init``: the ``model.pt`` of the run whose
    fine-tuned backbone this one starts from (``options.backbone.init_from``). A stratified
    ``val_fraction`` of the (experiment's) training rows is held out for early stopping and
    for what late fusion tunes; the test rows are only predicted."""
    params = TrainParams(**merged_params(train, spec))  # the variant's own first
    job = Job(variant, spec, split, experiment)
    shards = {m: shards[m] for m in spec["modalities"]}
    backbone = (spec.get("options") or {}).get("backbone")
    preprocessing = input_preprocessing(shards, backbone)
    torch.set_num_threads(params.threads)
    classes = json.loads(Path(classes_path).read_text())
    manifest = read_manifest(manifest_path)
    rows, lacking, normalisation, datasets = prepare_data(job, manifest, shards, inputs, params)
    shapes = {m: tuple(v.shape) for m, v in datasets[0][0].items() if m != "label"}
    model, options, hidden = build_model(job, shapes, len(classes), rows, params, init)
    dev = resolve_device(device)
    params = dataclasses.replace(params, workers=job_workers(params.workers, dev))
    sizes = [len(d) for d in datasets]
    log.info("%s: %d train, %d validation, %d test samples, shapes %s", job, *sizes, shapes)
    train_data, val_data, test_data = datasets
    history = train_model(model, train_data, params, dev, val_data if len(val_data) else None)
    probs = predict(model, test_data, dev, workers=params.workers)
    metrics = evaluate(probs, rows.test["label_idx"].to_numpy(), hidden, classes)
    metrics.update(test_set_warnings(probs, manifest, rows.test, split, classes, variant))
    log.info("%s: top1 %.3f macro-F1 %.3f", job, metrics["top1"], metrics["macro_f1"])
    run_dir = RunDir(out_dir)
    run_dir.write_model(model.cpu().state_dict())
    run_dir.write_description(
        job.described()
        | {"options": options, "shapes": {m: list(s) for m, s in shapes.items()}}
        | {"classes": classes, "inputs": inputs, "preprocessing": preprocessing}
        | {"train": dataclasses.asdict(params), "normalisation": normalisation}
        | {"backbone_init": None if init is None else str(init)}
    )
    run_dir.write_predictions(predictions_table(rows.test, probs, classes))
    write_quarantine(run_dir.quarantine_path, rows.missing)
    dropped = int((manifest[split] == "test").sum()) - sizes[2]
    run_dir.write_metrics(job.metrics(metrics, sizes, dropped, lacking, history, params.threads))
