# Config validation, wildcard constraints and the helpers that list a stage's files.
import re
import sys
from pathlib import Path

from harfuse.config_schema import validate
from harfuse.datasets import adapter_name
from harfuse.device import gpu_units
from harfuse.plan import (
    describe_backbone,
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
from harfuse.smoke import SMOKE_NOTE, smoke_config
from harfuse.store.manifest import available_modalities, read_manifest, shard_ids
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


wildcard_constraints:
    dataset=re.escape(DATASET),
    shard=r"\d+",
    flow_method=re.escape(config["flow"]["method"]),
    features="|".join(re.escape(s) for s in config["features"]["sets"]),
    variant="|".join(re.escape(v) for v in VARIANTS),
    split=r"[A-Za-z0-9_]+",
    experiment=r"full|ratio\d+|hidden\d+_(rgb|flow|audio|imu|skeleton)",


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
    set ``features``)."""
    pattern = {
        "frames": rules.extract_frames.output.shard,
        "rgb": rules.extract_features.output.shard,
        "flow": rules.compute_flow.output.shard,
        "audio": rules.extract_audio.output.shard,
        "imu": rules.extract_imu.output.shard,
        "skeleton": (
            rules.estimate_pose.output.shard
            if config["skeleton"]["source"] == "pose"
            else rules.extract_skeleton.output.shard
        ),
    }[modality]
    return expand(
        pattern,
        dataset=wildcards.dataset,
        shard=shard_ids(manifest_of(wildcards)),
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
    available = available_modalities(
        manifest_of(wildcards), config["skeleton"]["source"]
    )
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
    if config["skeleton"]["source"] != "pose" or "skeleton" not in used_modalities(
        wildcards
    ):
        return []
    return modality_shards(wildcards, "skeleton", "")


def quarantine_tables(wildcards) -> list[str]:
    """Every quarantine table: manifest, each shard stage, and each training run."""
    shards = shard_ids(manifest_of(wildcards))
    used = used_modalities(wildcards)
    pose = config["skeleton"]["source"] == "pose"
    skeleton = "skeleton" in used
    stages = {
        rules.extract_frames.output.quarantine: bool(used & {"rgb", "flow"}),
        rules.compute_flow.output.quarantine: "flow" in used,
        rules.extract_audio.output.quarantine: "audio" in used,
        rules.extract_imu.output.quarantine: "imu" in used,
        rules.estimate_pose.output.quarantine: skeleton and pose,
        rules.extract_skeleton.output.quarantine: skeleton and not pose,
    }
    per_shard = [pattern for pattern, needed in stages.items() if needed]
    tables = [rules.build_manifest.output.quarantine]
    tables += expand(
        per_shard,
        dataset=wildcards.dataset,
        shard=shards,
        flow_method=config["flow"]["method"],
    )
    feature_sets = {  # the frozen caches the runnable rgb variants read
        feature_set(config, v)
        for v, spec in VARIANTS.items()
        if not runnable_variants(wildcards)[v]
        and "rgb" in spec["modalities"]
        and not reads_frames(config, v)
    }
    tables += expand(
        rules.extract_features.output.quarantine,
        dataset=wildcards.dataset,
        shard=shards,
        features=sorted(feature_sets),
    )
    return tables + run_files(wildcards, "quarantine")


def report_notes(wildcards) -> list[str]:
    """Provenance lines printed under the report table, and the skipped variants."""
    skipped = runnable_variants(wildcards)
    sets = sorted(
        {
            feature_set(config, v)
            for v, spec in VARIANTS.items()
            if not skipped[v]
            and "rgb" in spec["modalities"]
            and not reads_frames(config, v)
        }
    )
    notes = [SMOKE_NOTE] if config["smoke"] else []
    for v, spec in VARIANTS.items():
        if not skipped[v] and reads_frames(config, v):
            notes.append(
                f"rgb of variant {v} = {describe_backbone(spec['options']['backbone'])}"
            )
    for name in sets:
        feats = config["features"]["sets"][name]
        weights = (
            "none (random init, frozen)"
            if feats["weights"] == "none"
            else feats["weights"]
        )
        notes.append(
            f"rgb of set {name} = frozen {feats['encoder']} features, weights: {weights}"
        )
    if "flow" in used_modalities(wildcards):
        backend = config["flow"]["backend"]
        notes.append(
            f"flow = {config['flow']['method']} (backend {backend}), "
            f"stored as {config['flow']['storage']}"
        )
    if "skeleton" in used_modalities(wildcards):
        notes.append(
            "skeleton = body keypoints estimated from the videos (MediaPipe Pose, 33 "
            f"joints; short side up to {config['skeleton']['pose']['size'] or 'the source'} px)"
            if config["skeleton"]["source"] == "pose"
            else "skeleton = the dataset's own skeleton files"
        )
    splits = manifest_of(wildcards).attrs["splits"]
    run = {s for v in VARIANTS for s in variant_splits(config, v, splits)}
    left = [s for s in splits if s not in run]
    if left:
        why = "no variant's splits name them"
        if config["dataset"].get("splits"):
            why = "dataset.splits"
        if config["smoke"]:
            why = "smoke runs the first split"
        notes.append(f"{', '.join(left)} not run ({why})")
    notes += list(manifest_of(wildcards).attrs.get("notes", []))
    return notes + [f"variant {v} {why}" for v, why in skipped.items() if why]


def get_final_output() -> list[str]:
    """Targets of `rule all`."""
    return expand(rules.build_report.output, dataset=DATASET)
