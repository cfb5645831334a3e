"""Checks that stop a run before its work, each problem on one line naming the key or file
and what to do.

:func:`check_before_work` runs when the workflow is parsed (dry runs included), before any
job: the config's cross-references, the dataset root and ``dataset.options``, every
variant's model built on inputs of the configured shapes, the weights file of every frozen
encoder, and the device. :func:`check_data` runs once the manifest exists, before any shard
job: what depends on the data (splits, classes, sizes), and, when jobs will run, a warning
when the bytes the stages will write exceed the free space (:func:`warn_disk`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harfuse.check_memo import memo_key, recall, remember
from harfuse.config_schema import ConfigError, did_you_mean
from harfuse.plan import (
    experiments,
    reference_problems,
    train_params,
    variant_splits,
)
from harfuse.train.splits import ratio_pick
from harfuse.workflow_env import runs_jobs

log = logging.getLogger(__name__)

#: memo key -> answer, for this process (parse time and the data checks ask twice)
_CHECKED: dict[str, ModelCheck] = {}


def raise_problems(problems: Sequence[str]) -> None:
    """Raise :class:`ConfigError` with one line per problem, if there are any."""
    if problems:
        raise ConfigError("\n".join(problems))


def check_before_work(
    config: dict[str, Any], local: bool = True, stages: set[str] | None = None
) -> None:
    """Everything the config alone decides: raise :class:`ConfigError` listing every
    problem. ``local``: jobs run on this machine (not a cluster), so its devices count.
    ``stages``: those the run reaches among ``train``, ``features`` and ``flow``
    (:func:`harfuse.workflow_env.reached_stages`; None = all): the models are checked only
    when it trains, weights only for the stages that load them."""
    problems = reference_problems(config)
    if problems:  # the other checks look references up
        raise_problems(problems)
    reached = {"train", "features", "flow"} if stages is None else stages
    raise_problems(
        dataset_problems(config)
        + (model_problems(config) if "train" in reached else [])
        + weights_problems(config, reached)
        + device_problems(config, local)
    )


def dataset_problems(config: dict[str, Any]) -> list[str]:
    """The dataset root and its layout, and ``dataset.options`` names (no media read)."""
    from harfuse.datasets import LayoutError, check_dataset

    dataset = config["dataset"]
    if dataset["layout"] == "demo":  # the workflow writes the root itself
        return []
    try:
        check_dataset(dataset["root"], dataset["layout"], dataset.get("options") or {})
    except (ConfigError, LayoutError) as err:
        return str(err).splitlines()
    return []


def dummy_shapes(config: dict[str, Any], variant: str) -> dict[str, tuple[int, ...]]:
    """Per-sample input shapes of ``variant`` as the config fixes them (each modality's
    :meth:`~harfuse.modalities.base.Modality.dummy_shape`)."""
    from harfuse.modalities.registry import MODALITIES

    modalities = config["train"]["variants"][variant]["modalities"]
    return {m: MODALITIES[m].dummy_shape(config, variant) for m in modalities}


def dummy_model(config: dict[str, Any], variant: str, num_classes: int = 2):
    """``variant``'s model built with its options on :func:`dummy_shapes` (on torch's
    ``meta`` device: shapes without values): what a training job would build, minus the
    data and weights."""
    import torch

    from harfuse.fusion import create_model

    name, options, shapes = _model_spec(config, variant)
    # on the meta device: shapes and dtypes propagate, no weight is initialised and no
    # arithmetic runs (an S3D on a 16 x 224 x 224 clip takes 15 s on the CPU, 0.5 s here)
    with torch.device("meta"):
        return create_model(name, shapes, num_classes, **options), shapes


def _model_spec(config: dict[str, Any], variant: str):
    """(model name, options, :func:`dummy_shapes`) of ``variant``, its backbone's weights
    ``none`` (they are checked on their own, :func:`weights_problems`)."""
    options = dict(config["train"]["variants"][variant].get("options") or {})
    if "backbone" in options:
        options["backbone"] = {**options["backbone"], "weights": "none"}
    return config["train"]["variants"][variant]["model"], options, dummy_shapes(config, variant)


@dataclass(frozen=True)
class ModelCheck:
    """What building ``variant``'s model and passing it one dummy sample told."""

    #: why it cannot be built or cannot take the sample; None when it can
    problem: str | None
    #: whether it tunes on held-out predictions (``needs_validation``; False if unbuilt)
    needs_validation: bool


#: what the model check runs: its answer changes only with these modules and packages
_CHECKED_BY = (["harfuse.fusion", "harfuse.preflight"], ["torch", "torchvision"])


def check_model(config: dict[str, Any], variant: str) -> ModelCheck:
    """:class:`ModelCheck` of ``variant``: :func:`dummy_model` and one sample through it,
    or the answer kept from an earlier command with the same model, shapes, code and
    packages (:mod:`harfuse.check_memo`: 5 s of torch imports saved a command). A model
    whose encoders load weights files (``options.encoders.<m>.weights``) is checked every
    time: its answer depends on those files too."""
    spec = _model_spec(config, variant)
    if _loads_files(spec[1].get("encoders")):
        return _run_model_check(config, variant)
    key = memo_key(spec, *_CHECKED_BY)
    if key not in _CHECKED:
        kept = recall("model-check", key)
        try:
            _CHECKED[key] = ModelCheck(**kept)
        except TypeError:  # none kept, or not one of ours
            _CHECKED[key] = _run_model_check(config, variant)
            remember("model-check", key, asdict(_CHECKED[key]))
    return _CHECKED[key]


def _loads_files(encoders: Any) -> bool:
    """Whether ``options.encoders`` names weights other than ``none`` for an encoder."""
    return isinstance(encoders, dict) and any(
        isinstance(e, dict) and e.get("weights", "none") not in (None, "none")
        for e in encoders.values()
    )


def _run_model_check(config: dict[str, Any], variant: str) -> ModelCheck:
    import torch

    try:
        model, shapes = dummy_model(config, variant)
        with torch.no_grad():
            model.eval()({m: torch.zeros((1, *s), device="meta") for m, s in shapes.items()})
    except (ValueError, TypeError, KeyError, RuntimeError) as err:
        return ModelCheck(str(err), False)
    return ModelCheck(None, bool(model.needs_validation))


def model_problems(config: dict[str, Any]) -> list[str]:
    """Every variant whose model cannot be built from its ``options``, or cannot take one
    sample of the configured shapes (a clip too short or small for a backbone)."""
    checks = {name: check_model(config, name) for name in config["train"]["variants"]}
    return [f"train.variants.{n}.options: {c.problem}" for n, c in checks.items() if c.problem]


def skipped_before_work(config: dict[str, Any]) -> dict[str, str]:
    """``{variant: why}`` for the variants the dataset root already tells will be skipped
    (a modality's folder absent; :func:`harfuse.datasets.absent_modalities`): the checks
    of what they alone need (weights) are not run for them, and the log says so."""
    from harfuse.datasets import LayoutError, absent_modalities

    dataset = config["dataset"]
    if dataset["layout"] == "demo":
        return {}
    try:
        absent = absent_modalities(dataset["root"], dataset["layout"], dataset.get("options") or {})
    except (ConfigError, LayoutError, TypeError):
        return {}  # dataset_problems reports the root and the options
    if config["skeleton"]["source"] == "pose" and "rgb" in absent:  # keypoints from videos
        absent["skeleton"] = absent["rgb"]
    skipped = {
        name: f"will be skipped: no {m} ({absent[m]})"
        for name, spec in config["train"]["variants"].items()
        for m in spec["modalities"]
        if m in absent
    }
    for name, why in skipped.items():
        log.warning("train.variants.%s %s; its weights are not checked", name, why)
    return skipped


def weights_problems(
    config: dict[str, Any], stages: set[str] = frozenset({"train", "features", "flow"})
) -> list[str]:
    """Weights files of the frozen encoders the variants use (``features`` or ``train`` in
    ``stages``), of their fine-tuned backbones (``train``) and RAFT's (``flow``), but for the
    variants :func:`skipped_before_work`."""
    from harfuse.modalities.registry import modality_problems

    if not stages & {"train", "features", "flow"}:
        return []
    skipped = skipped_before_work(config)
    variants = {n: s for n, s in config["train"]["variants"].items() if n not in skipped}
    return modality_problems(config, variants, stages)


def device_problems(config: dict[str, Any], local: bool) -> list[str]:
    """``device: cuda`` on a machine whose torch sees no CUDA device, when jobs run here."""
    if config["device"] != "cuda" or not local:
        return []
    import torch

    from harfuse.device import NO_CUDA

    return [] if torch.cuda.is_available() else [NO_CUDA]


def check_data(config: dict[str, Any], manifest: pd.DataFrame) -> None:
    """What depends on the data, right after the manifest: raise :class:`ConfigError`
    listing every problem; then, in a Snakemake run that will run jobs, warn when the
    disk is short (:func:`warn_disk`)."""
    raise_problems(data_problems(config, manifest))
    if disk_check_wanted(sys.argv):
        warn_disk(config, manifest)


#: environment variable: ``0`` skips the disk estimate before the shard jobs
DISK_CHECK_ENV = "HARFUSE_DISK_CHECK"
#: the probe of the check before the jobs: videos whose durations are read, videos decoded
#: and stored, seconds per measurement at most (2 s on the demo, within 10 % of its bytes;
#: fewer measured videos left the frames 24 % over). ``harfuse plan`` probes more
DISK_PROBE = {"sample": 16, "measure": 8, "budget_s": 3.0}


def disk_check_wanted(argv: Sequence[str]) -> bool:
    """Whether ``argv`` is a Snakemake command (``snakemake`` or ``python -m snakemake``)
    that will run jobs here and now: not a dry run, nor a job of a cluster executor, nor
    ``--unlock`` and the like, nor with ``HARFUSE_DISK_CHECK=0``."""
    program = Path(argv[0]) if argv else Path()
    snakemake = program.name == "snakemake" or program.parent.name == "snakemake"
    if os.environ.get(DISK_CHECK_ENV) == "0" or not snakemake or not runs_jobs(list(argv)):
        return False
    from snakemake.cli import get_argument_parser

    try:
        args, _ = get_argument_parser().parse_known_args(list(argv[1:]))
    except (SystemExit, Exception):  # a command Snakemake itself rejects says why
        return False
    mode = getattr(args.mode, "name", str(args.mode)).lower()
    return not args.dryrun and mode == "default" and not args.target_jobs


def warn_disk(config: dict[str, Any], manifest: pd.DataFrame) -> None:
    """Log a warning when the bytes the stages will write (a quick
    :func:`harfuse.disk_estimate.estimate_disk`: :data:`DISK_PROBE`) exceed the free space
    where ``results/`` lives. Advisory: an estimate that fails is logged, never raised."""
    from harfuse.disk_estimate import estimate_disk, human_bytes, shortfall

    try:
        estimate = estimate_disk(config, manifest, **DISK_PROBE)
    except Exception as exc:  # advisory: whatever fails, the run goes on
        log.warning(
            "disk estimate skipped (%s: %s); harfuse plan prints it", type(exc).__name__, exc
        )
        return
    warning = shortfall(estimate)
    if warning:
        log.warning(
            "%s (harfuse plan prints the table; %s=0 skips this check)", warning, DISK_CHECK_ENV
        )
    else:
        log.info(
            "disk: about %s still to write under %s, %s free",
            human_bytes(estimate.needed),
            estimate.results,
            human_bytes(estimate.free),
        )


def data_problems(config: dict[str, Any], manifest: pd.DataFrame) -> list[str]:
    """Splits the variants name, each split's train and test samples, ``hidden_classes``
    against the classes with training and test samples, and the ratio sweep against the
    training split's size."""
    from harfuse.modalities.registry import available_modalities

    splits = list(manifest.attrs["splits"])
    available = available_modalities(manifest, config)
    variants = {  # those the dataset can run (the others are reported as skipped)
        name: spec
        for name, spec in config["train"]["variants"].items()
        if set(spec["modalities"]) <= available
    }
    problems = [
        f"dataset.splits: {split!r} is not a split of the dataset{did_you_mean(split, splits)} "
        f"(splits: {', '.join(splits)})"
        + "".join(f"; {note}" for note in manifest.attrs.get("notes", []) if split in note)
        for split in config["dataset"].get("splits") or []
        if split not in splits
    ]
    for name, spec in variants.items():
        for split in spec.get("splits") or []:
            if split not in splits:
                problems.append(
                    f"train.variants.{name}.splits: {split!r} is not a split of the dataset"
                    f"{did_you_mean(split, splits)} (splits: {', '.join(splits)})"
                )
    if problems:
        return problems
    needs_val = {name: check_model(config, name).needs_validation for name in variants}
    used = {s for v in variants for s in variant_splits(config, v, splits)}
    for split in sorted(used, key=splits.index):
        train = manifest.loc[manifest[split] == "train", "label_idx"].to_numpy()
        test = manifest.loc[manifest[split] == "test", "label_idx"].to_numpy()
        if not len(train) or not len(test):
            empty = "training" if not len(train) else "test"
            problems.append(f"split {split}: no {empty} sample in the dataset")
            continue
        both = sorted(set(train) & set(test))
        runs = [v for v in variants if split in variant_splits(config, v, splits)]
        counts = {
            e["count"] for v in runs for e in experiments(config, v).values() if "hidden" in e
        }
        for count in sorted(c for c in counts if c >= len(both)):
            problems.append(
                f"experiments.hidden_classes: {count} hidden, but split {split} has "
                f"{len(both)} classes with training and test samples: set it below "
                f"{len(both)}, or to 0 for no hidden-class experiment"
            )
        for variant in runs:
            seed = train_params(config, variant)["seed"]  # the variant's own, as the run's
            problems += ratio_problems(
                variant, split, train, experiments(config, variant), needs_val[variant], seed
            )
    return list(dict.fromkeys(problems))


def ratio_problems(
    variant: str,
    split: str,
    train_labels: np.ndarray,
    runs: dict[str, dict[str, Any]],
    needs_validation: bool,
    seed: int,
) -> list[str]:
    """Ratio-sweep runs of ``variant`` on ``split`` that would train on all of the
    training split anyway, or that leave a variant tuning on held-out predictions no
    held-out sample (a class's last sample stays in training)."""
    problems = []
    for name, run in runs.items():
        ratio = run.get("ratio", 1.0)
        picked = train_labels[ratio_pick(train_labels, ratio, seed)]
        if ratio < 1.0 and len(picked) == len(train_labels):
            problems.append(
                f"experiments.ratios: {ratio} of split {split}'s {len(train_labels)} training "
                "samples is all of them (at least one per class is kept): drop the ratio"
            )
        _, per_class = np.unique(picked, return_counts=True)
        if needs_validation and per_class.max() < 2:
            where = f"ratio {ratio}" if ratio < 1.0 else "the whole training split"
            problems.append(
                f"train.variants.{variant} ({name}, split {split}): tunes on held-out "
                f"predictions, but {where} leaves one training sample per class and none to "
                "hold out: use a larger ratio, more data, or options.combine other than meta"
            )
    return problems
