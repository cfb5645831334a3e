"""What the workflow trains, from the config: each variant's feature set and experiments,
and the cross-references the JSON schema cannot check."""

from __future__ import annotations

import logging
import os
from typing import Any

from harfuse.config_schema import filled
from harfuse.device import gpu_count, gpu_units
from harfuse.flow.defaults import flow_backend

log = logging.getLogger(__name__)

#: the main run of every variant: the whole training split
FULL = "full"


def reference_problems(config: dict[str, Any]) -> list[str]:
    """One line per config value that refers to something the config does not define."""
    sets = config["features"]["sets"]
    variants = config["train"]["variants"]
    problems = []
    if config["features"]["default"] not in sets:
        problems.append(
            f"features.default: {config['features']['default']!r} is not a set of "
            f"features.sets ({', '.join(sets)})"
        )
    for name, spec in variants.items():
        if "features" in spec and spec["features"] not in sets:
            problems.append(
                f"train.variants.{name}.features: {spec['features']!r} is not a set of "
                f"features.sets ({', '.join(sets)})"
            )
        if "features" in spec and "rgb" not in spec["modalities"]:
            problems.append(
                f"train.variants.{name}.features: the variant has no rgb modality to read it"
            )
    for key in ("ratio_variants", "hidden_variants"):
        unknown = set(config.get("experiments", {}).get(key, [])) - set(variants)
        if unknown:
            problems.append(
                f"experiments.{key}: {', '.join(sorted(unknown))} not in train.variants"
            )
    hidden = config.get("experiments", {}).get("hidden_variants", [])
    not_two_stage = [v for v in hidden if v in variants and variants[v]["model"] != "two_stage"]
    if not_two_stage:
        problems.append(
            f"experiments.hidden_variants: {', '.join(not_two_stage)} not two_stage (hidden-class "
            "runs withhold classes from one modality's stage 1)"
        )
    return problems + init_problems(config) + published_problems(config)


def backbone_source(config: dict[str, Any], variant: str) -> str | None:
    """The variant whose fine-tuned backbone ``variant`` starts from
    (``options.backbone.init_from``), or None."""
    options = config["train"]["variants"][variant].get("options") or {}
    return (options.get("backbone") or {}).get("init_from")


def init_problems(config: dict[str, Any]) -> list[str]:
    """One line per ``options.backbone.init_from`` that names no variant, a variant
    without a backbone of the same arch, one that does not run every split and experiment
    of this one, or that leads back to this one."""
    variants = config["train"]["variants"]
    problems = []
    for name in variants:
        source = backbone_source(config, name)
        if source is None:
            continue
        where = f"train.variants.{name}.options.backbone.init_from"
        if source not in variants:
            problems.append(f"{where}: {source!r} is not in train.variants ({', '.join(variants)})")
            continue
        own = variants[name]["options"]["backbone"]
        theirs = (variants[source].get("options") or {}).get("backbone")
        if not theirs or theirs.get("arch") != own.get("arch"):
            problems.append(
                f"{where}: variant {source} does not fine-tune a {own.get('arch')} backbone"
            )
            continue
        chain, step = [name], source
        while step in variants and step not in chain:
            chain.append(step)
            step = backbone_source(config, step)
        if step in chain:
            problems.append(f"{where}: a cycle ({' -> '.join([*chain, step])})")
            continue
        missing = sorted(set(experiments(config, name)) - set(experiments(config, source)))
        if missing:
            problems.append(
                f"{where}: variant {source} runs no {', '.join(missing)}, which {name} runs "
                f"(add {source} to the experiments' variant lists)"
            )
        mine, its = variants[name].get("splits"), variants[source].get("splits")
        if its and (not mine or set(mine) - set(its)):
            problems.append(
                f"{where}: variant {source} runs only on {', '.join(its)}; set "
                f"train.variants.{name}.splits to a subset"
            )
    return problems


def published_problems(config: dict[str, Any]) -> list[str]:
    """One line per ``published.figures`` entry naming a variant, experiment or split the
    config does not run, or repeating an earlier entry."""
    variants = config["train"]["variants"]
    problems = []
    seen: dict[tuple, int] = {}
    for i, figure in enumerate(config.get("published", {}).get("figures", [])):
        where = f"published.figures.{i}"
        name = figure["variant"]
        experiment = figure.get("experiment", FULL)
        if name not in variants:
            problems.append(
                f"{where}.variant: {name!r} is not in train.variants ({', '.join(variants)})"
            )
            continue
        runs = experiments(config, name)
        if experiment not in runs:
            problems.append(
                f"{where}.experiment: variant {name} runs no {experiment!r} "
                f"(it runs {', '.join(runs)})"
            )
        named = variants[name].get("splits")
        if "split" in figure and named and figure["split"] not in named:
            problems.append(
                f"{where}.split: variant {name} runs only on {', '.join(named)}, "
                f"not {figure['split']!r}"
            )
        key = (name, experiment, figure.get("metric", "top1"), figure.get("split"))
        if key in seen:
            problems.append(f"{where}: the same figure as published.figures.{seen[key]}")
        seen.setdefault(key, i)
    return problems


def merged_params(train: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """``train.params`` (``train``) with a variant's (``spec``) own ``params`` over them:
    the one merge the planning, the checks and the train job all use."""
    return {**train, **(spec.get("params") or {})}


def train_params(config: dict[str, Any], variant: str) -> dict[str, Any]:
    """``train.params`` with ``variant``'s own ``params`` over them."""
    return merged_params(config["train"]["params"], config["train"]["variants"][variant])


def loader_workers(workers: int | str, on_gpu: bool, cores: int, gpus: int = 1) -> int:
    """The DataLoader workers of a training job that may use ``cores`` CPU cores, on a GPU
    (``on_gpu``, one of ``gpus`` sharing the cores) or not: ``train.params.workers``, where
    ``auto`` is 0 on the CPU (workers would take the cores the training threads compute
    on: 4 workers on a 2-core CPU ran a fine-tuning recipe at 0.1 samples/s) and on a GPU
    the job's share of the cores (``cores / gpus``) less one for the training process. A
    count above ``cores`` is kept, with one warning. The train rule's threads and the train
    job both take it from here."""
    if workers == "auto":
        return max(0, cores // max(1, gpus) - 1) if on_gpu else 0
    workers = int(workers)
    if workers > cores:
        log.warning(
            "train.params.workers: %d DataLoader processes for the %d core%s this job may use "
            "(they compete with the training for them); workers: auto chooses",
            workers,
            cores,
            "s" * (cores != 1),
        )
    return workers


def flow_resources(config: dict[str, Any]) -> dict[str, int]:
    """The flow rule's ``threads`` and ``gpu`` from what its jobs will run on
    (:func:`harfuse.flow.defaults.flow_backend`, decided without importing torch): on a
    GPU, 4 threads decoding frames ahead of the kernel (one feeds ~1000-2000 frames/s) and
    one GPU; on the CPU, 1 thread (OpenCV's) and none."""
    flow = config["flow"]
    cuda = bool(gpu_units(config["device"]))
    _, on_gpu = flow_backend(flow["method"], flow["backend"], config["device"], cuda)
    return {"threads": 4 if on_gpu else 1, "gpu": int(on_gpu)}


def job_cores(config: dict[str, Any], variant: str) -> int:
    """Cores a training job of ``variant`` asks for: its torch threads plus its loader
    workers (:func:`loader_workers` on this machine, decided without importing torch)."""
    params = train_params(config, variant)
    gpus = gpu_count()
    workers = loader_workers(
        params.get("workers", "auto"), bool(gpu_units(config["device"])), os.cpu_count() or 1, gpus
    )
    return int(params.get("threads", 1)) + workers


def describe_backbone(backbone: dict[str, Any]) -> str:
    """What a fine-tuned backbone (a variant's ``options.backbone``, as ``model.json``
    records it) starts from and trains, in words: the report, ``harfuse inspect`` and the
    README say it the same way."""
    backbone = filled(backbone, "train", "variants", "*", "options", "backbone")
    blocks = backbone["blocks"]
    trained = (
        {
            "all": "every block trained",
            "none": "frozen (only what reads its features trains)",
        }.get(blocks)
        if isinstance(blocks, str)
        else f"blocks {', '.join(blocks)} trained"
    )
    if backbone.get("init_from"):
        start = f"the weights variant {backbone['init_from']} fine-tuned on the same split"
    else:
        weights = backbone["weights"]
        start = "random weights" if weights == "none" else f"weights {weights}"
    return f"{backbone['arch']} on the frames, from {start}, {trained}"


def reads_frames(config: dict[str, Any], variant: str) -> bool:
    """Whether ``variant``'s rgb modality reads clips from the frame shards (it fine-tunes
    a backbone: ``options.backbone``) instead of a features set's cache."""
    spec = config["train"]["variants"][variant]
    return "rgb" in spec["modalities"] and "backbone" in (spec.get("options") or {})


def feature_set(config: dict[str, Any], variant: str) -> str:
    """The features set the ``rgb`` modality of ``variant`` reads."""
    return config["train"]["variants"][variant].get("features", config["features"]["default"])


def feature_params(config: dict[str, Any], name: str) -> dict[str, Any]:
    """Everything the features stage needs for set ``name``: the set plus shared keys."""
    shared = {k: v for k, v in config["features"].items() if k not in ("default", "sets")}
    return {**shared, **config["features"]["sets"][name]}


def model_inputs(config: dict[str, Any]) -> dict[str, Any]:
    """``train.inputs`` with ``flow_size`` resolved to ``[h, w]``: flow computed from
    frames of different aspect ratios (``frames.size`` a short side) differs in width, and
    a model stacks samples, so every sample is fitted to one shape. Left ``null``, it is
    ``frames.size`` (a short side ``s`` gives ``[s, s]``, the centre square)."""
    inputs = dict(config["train"]["inputs"])
    if inputs.get("flow_size") is None:
        size = config["frames"]["size"]
        inputs["flow_size"] = [size, size] if isinstance(size, int) else list(size)
    return inputs


def variant_splits(config: dict[str, Any], variant: str, splits: list[str]) -> list[str]:
    """The manifest's ``splits`` that ``variant`` runs on: those it names, else all; of
    them only those of ``dataset.splits`` when it names some, and the first for a smoke
    run."""
    own = list(config["train"]["variants"][variant].get("splits") or splits)
    chosen = config["dataset"].get("splits")
    own = [s for s in own if s in chosen] if chosen else own
    return own[:1] if config.get("smoke") else own


def ratio_name(ratio: float) -> str:
    """``0.25`` -> ``ratio25`` (percent, rounded)."""
    return f"ratio{round(100 * ratio)}"


def experiments(config: dict[str, Any], variant: str) -> dict[str, dict[str, Any]]:
    """Experiment name -> spec for ``variant``: ``full``; ``ratio{P}`` with ``ratio`` for
    the ratio sweep; ``hidden{N}_{modality}`` with ``hidden`` and ``count`` for each count
    ``N`` of ``experiments.hidden_classes`` and each modality of a ``two_stage`` variant."""
    spec = config["train"]["variants"][variant]
    settings = config.get("experiments", {})
    out: dict[str, dict[str, Any]] = {FULL: {"name": FULL}}
    swept = settings.get("ratio_variants") or list(config["train"]["variants"])
    if variant in swept:
        for ratio in settings.get("ratios", []):
            out[ratio_name(ratio)] = {"name": ratio_name(ratio), "ratio": ratio}
    hidden = settings.get("hidden_variants") or list(config["train"]["variants"])
    if spec["model"] == "two_stage" and variant in hidden:
        for count in hidden_counts(config):
            for m in spec["modalities"]:
                name = f"hidden{count}_{m}"
                out[name] = {"name": name, "hidden": m, "count": count}
    return out


def hidden_counts(config: dict[str, Any]) -> list[int]:
    """``experiments.hidden_classes`` as a list of class counts (``0`` -> none)."""
    value = config.get("experiments", {}).get("hidden_classes", 0)
    return [value] if isinstance(value, int) and value else list(value or [])
