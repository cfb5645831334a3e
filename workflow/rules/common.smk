# Config validation, wildcard constraints and the helpers that list a stage's files.
import re
import sys
from pathlib import Path

from harfuse.config_schema import validate
from harfuse.datasets import adapter_name
from harfuse.device import gpu_units
from harfuse.modalities.base import FILE_RULE
from harfuse.modalities.registry import (
    MODALITIES,
    NAMES,
    available_modalities,
    file_modalities,
)
from harfuse.plan import (
    flow_resources,
    backbone_source,
    experiments,
    feature_params,
    feature_set,
    job_cores,
    model_inputs,
    reads_frames,
    variant_splits,
)
from harfuse.preflight import check_before_work, check_data
from harfuse.provenance import code_version
from harfuse.report_notes import report_notes as notes_for_report
from harfuse.smoke import smoke_config
from harfuse.stages.sample_files import module_of
from harfuse.store.manifest import read_manifest, shard_ids
from harfuse.workflow_env import (
    export_src_on_pythonpath,
    reached_stages,
    requested_targets,
    runs_jobs,
)

# the checkout's schema (its src/ is what the jobs run), not an installed copy's
validate(config, Path(workflow.basedir) / "src" / "harfuse" / "config.schema.yaml")
if config["smoke"]:  # toy sizes for a CPU (harfuse.smoke)
    config.update(smoke_config(config))
# not in cluster jobs, nor for --unlock, --report and the like
if workflow.is_main_process and runs_jobs(sys.argv):
    # the devices count only where the jobs run: here, unless a cluster executor sends them
    # only for the stages the requested targets reach (a manifest alone needs no weights)
    check_before_work(
        config,
        local=workflow.local_exec,
        stages=reached_stages(requested_targets(sys.argv)),
    )

export_src_on_pythonpath(workflow.basedir)

DATASET = config["dataset"]["name"]
VARIANTS = config["train"]["variants"]
# Jobs on CUDA take one unit of the `gpu` resource, which profiles limit (one per GPU).
GPU_PER_JOB = gpu_units(config["device"])
FLOW_RESOURCES = flow_resources(config)
# Shard stages start before the training jobs that are ready: a variant waits for every
# shard of its modalities, so a shard job left behind idles the cores at the end of a run
SHARD_PRIORITY = 1


wildcard_constraints:
    dataset=re.escape(DATASET),
    shard=r"\d+",
    flow_method=re.escape(config["flow"]["method"]),
    features="|".join(re.escape(s) for s in config["features"]["sets"]),
    variant="|".join(re.escape(v) for v in VARIANTS),
    split=r"[A-Za-z0-9_]+",
    experiment=r"full|ratio\d+|hidden\d+_(" + "|".join(NAMES) + ")",


_DATA_CHECKED = set()
# path -> (modification time, manifest): every input function asks for it, once per job
_MANIFESTS = {}


def manifest_of(wildcards):
    """The manifest, once the build_manifest checkpoint has run (read once per version of
    the file, not per call); the first read checks what depends on the data, so a problem
    stops the run before any shard job."""
    path = checkpoints.build_manifest.get(dataset=wildcards.dataset).output.manifest
    stamp = Path(path).stat().st_mtime_ns
    if _MANIFESTS.get(path, (None,))[0] != stamp:
        _MANIFESTS[path] = (stamp, read_manifest(path))
    manifest = _MANIFESTS[path][1]
    if path not in _DATA_CHECKED:
        check_data(config, manifest)
        _DATA_CHECKED.add(path)
    return manifest


def modality_shards(wildcards, modality: str, features: str) -> list[str]:
    """Every shard file of one model input modality (rgb = the cached frame features of
    set ``features``; ``frames``: the frame shards)."""
    writer = (
        "extract_frames"
        if modality == "frames"
        else MODALITIES[modality].shard_rule(config)
    )
    return stage_files(wildcards, writer, "shard", modality, features)


def stage_files(
    wildcards, writer: str, output: str, modality: str, features: str = ""
) -> list[str]:
    """Output ``output`` of rule ``writer`` for every shard of the manifest (with the
    wildcards of the rule that writes every per-file modality, and of the features
    stage)."""
    return expand(
        getattr(getattr(rules, writer).output, output),
        dataset=wildcards.dataset,
        shard=shard_ids(manifest_of(wildcards)),
        modality=modality,
        features=features,
        flow_method=config["flow"]["method"],
    )


def variant_inputs(wildcards) -> dict[str, list[str]]:
    """Shards of each modality the variant uses, keyed by modality (rgb: the frame
    shards when the variant fine-tunes a backbone on them), and ``init``: the model of the
    run whose fine-tuned backbone the variant starts from (``backbone.init_from``)."""
    spec = VARIANTS[wildcards.variant]
    features = feature_set(config, wildcards.variant)
    frames = reads_frames(config, wildcards.variant)
    inputs = {
        m: modality_shards(
            wildcards, "frames" if m == "rgb" and frames else m, features
        )
        for m in spec["modalities"]
    }
    source = backbone_source(config, wildcards.variant)
    if source:  # the run whose fine-tuned backbone this one starts from
        inputs["init"] = rules.train_variant.output.model.format(
            **{**dict(wildcards.items()), "variant": source}
        )
    return inputs


def runnable_variants(wildcards) -> dict[str, str]:
    """Variants whose modalities the dataset has -> "", the others -> why they are skipped."""
    available = available_modalities(manifest_of(wildcards), config)
    status = {}
    for name, spec in VARIANTS.items():
        missing = sorted(set(spec["modalities"]) - available)
        status[name] = (
            f"skipped: dataset {DATASET} has no {', '.join(missing)}" if missing else ""
        )
    return status


def run_files(wildcards, name: str) -> list[str]:
    """``name`` (an output key of train_variant) for every runnable variant, split and
    experiment of the variant."""
    splits = manifest_of(wildcards).attrs["splits"]
    runnable = [v for v, why in runnable_variants(wildcards).items() if not why]
    pattern = getattr(rules.train_variant.output, name)
    return [
        path
        for v in runnable
        for path in expand(
            pattern,
            dataset=wildcards.dataset,
            variant=v,
            split=variant_splits(config, v, splits),
            experiment=list(experiments(config, v)),
        )
    ]


def used_modalities(wildcards) -> set[str]:
    """Modalities of the runnable variants."""
    status = runnable_variants(wildcards)
    return {
        m for v, spec in VARIANTS.items() if not status[v] for m in spec["modalities"]
    }


def pose_shards(wildcards) -> list[str]:
    """The pose stage's shards when a runnable variant reads estimated skeletons (the
    report's pose coverage), else none."""
    skeleton = MODALITIES["skeleton"]
    if skeleton.shard_rule(
        config
    ) != "estimate_pose" or "skeleton" not in used_modalities(wildcards):
        return []
    return modality_shards(wildcards, "skeleton", "")


def quarantine_tables(wildcards) -> list[str]:
    """Every quarantine table: manifest, each shard stage of a used modality, each frozen
    features cache a runnable variant reads, and each training run."""
    stages = {  # (rule, modality): the per-file rule writes one table per modality
        (writer, m if writer == FILE_RULE else ""): m
        for m in MODALITIES
        if m in used_modalities(wildcards)
        for writer in MODALITIES[m].stage_rules(config)
    }
    tables = [rules.build_manifest.output.quarantine]
    for writer, modality in stages:
        tables += stage_files(wildcards, writer, "quarantine", modality)
    status = runnable_variants(wildcards)
    feature_sets = {  # the frozen caches the runnable rgb variants read
        feature_set(config, v)
        for v, spec in VARIANTS.items()
        if not status[v] and "rgb" in spec["modalities"] and not reads_frames(config, v)
    }
    for name in sorted(feature_sets):
        tables += stage_files(wildcards, "extract_features", "quarantine", "rgb", name)
    return tables + run_files(wildcards, "quarantine")


def report_notes(wildcards) -> list[str]:
    """Provenance lines printed under the report table, and the skipped variants."""
    return notes_for_report(
        config, runnable_variants(wildcards), manifest_of(wildcards).attrs
    )


def get_final_output() -> list[str]:
    """Targets of `rule all`."""
    return expand(rules.build_report.output, dataset=DATASET)
