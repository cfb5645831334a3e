import copy
import platform
import re
import subprocess
import sys

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from harfuse.config_schema import ConfigError
from harfuse.config_schema import validate as validate_config
from harfuse.plan import experiments, feature_params, feature_set, reference_problems
from harfuse.preflight import raise_problems

from .conftest import REPO

SCHEMA = str(REPO / "src" / "harfuse" / "config.schema.yaml")
LOCK = REPO / "requirements" / "lock-py3.11-linux-x86_64.txt"


def default_config() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_default_config_is_valid_and_defaults_fill_in():
    cfg = default_config()
    del cfg["flow"]["bound"], cfg["on_error"]
    validate(cfg, SCHEMA)
    assert cfg["flow"]["bound"] == 20.0
    assert cfg["on_error"] == "skip"


@pytest.mark.parametrize(
    ("edit", "names"),
    [
        (
            lambda c: c["flow"].update(method="lucas"),
            ["'lucas' is not one of", "['flow']['method']"],
        ),
        (lambda c: c["flow"].update(methd="tvl1"), ["'methd' was unexpected", "['flow']"]),
        (lambda c: c["imu"].update(window=0), ["0 is less than the minimum", "['imu']['window']"]),
        (lambda c: c.pop("features"), ["'features' is a required property"]),
        (
            lambda c: c["train"]["variants"]["rgb"].update(modalities=["thermal"]),
            ["'thermal' is not one of", "['train']['variants']['rgb']['modalities'][0]"],
        ),
    ],
)
def test_invalid_config_error_names_the_key(edit, names):
    cfg = copy.deepcopy(default_config())
    edit(cfg)
    with pytest.raises(WorkflowError) as err:
        validate(cfg, SCHEMA)
    for name in names:
        assert name in str(err.value)


def test_every_config_key_is_commented():
    """Each key of config.yaml has a comment on its line or on the line above."""
    lines = (REPO / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or ":" not in stripped:
            continue
        above = lines[i - 1].strip() if i else ""
        assert "#" in line or above.startswith("#"), f"config.yaml:{i + 1} lacks a comment"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["features"].update(default="clip"),
            "features.default: 'clip' is not a set of features.sets",
        ),
        (
            lambda c: c["train"]["variants"]["rgb"].update(features="clip"),
            "train.variants.rgb.features: 'clip' is not a set",
        ),
        (
            lambda c: c["train"]["variants"]["imu"].update(features="video_cnn"),
            "train.variants.imu.features: the variant has no rgb modality",
        ),
        (
            lambda c: c["experiments"].update(ratio_variants=["imu", "nope"]),
            "experiments.ratio_variants: nope not in train.variants",
        ),
    ],
)
def test_config_references_are_checked(edit, message):
    cfg = copy.deepcopy(default_config())
    edit(cfg)
    with pytest.raises(ConfigError, match=re.escape(message)):
        raise_problems(reference_problems(cfg))


#: a recipe's ``published:`` block (on the demo's variants)
PUBLISHED = {
    "classes": 27,
    "min_samples": 861,
    "figures": [
        {"variant": "two_stage", "value": 96.05, "source": "A fusion paper, Table 3"},
        {"variant": "two_stage", "metric": "top5", "value": 100, "source": "ibid."},
        {
            "variant": "imu",
            "experiment": "ratio50",
            "split": "cross_subject",
            "value": 80.1,
            "source": "ibid., Fig. 4",
        },
    ],
}


def test_published_figures_are_validated_and_their_references_checked():
    cfg = copy.deepcopy(default_config())
    cfg["published"] = copy.deepcopy(PUBLISHED)
    validate(cfg, SCHEMA)
    assert cfg["published"]["figures"][0]["metric"] == "top1"
    assert cfg["published"]["figures"][0]["experiment"] == "full"
    raise_problems(reference_problems(cfg))
    bad = copy.deepcopy(cfg)
    bad["published"]["figures"][0]["metric"] = "top3"
    with pytest.raises(WorkflowError, match=re.escape("'top3' is not one of")):
        validate(bad, SCHEMA)
    figures = cfg["published"]["figures"]
    figures[0]["variant"] = "s3d_imu"
    figures[1]["experiment"] = "ratio10"
    figures[2]["split"] = "cross_view"
    cfg["train"]["variants"]["imu"]["splits"] = ["cross_subject"]
    figures.append(dict(figures[1]))
    with pytest.raises(ConfigError) as err:
        raise_problems(reference_problems(cfg))
    assert str(err.value).splitlines() == [
        "published.figures.0.variant: 's3d_imu' is not in train.variants ("
        + ", ".join(cfg["train"]["variants"])
        + ")",
        "published.figures.1.experiment: variant two_stage runs no 'ratio10' (it runs full, "
        "ratio25, ratio50, hidden2_rgb, hidden2_imu)",
        "published.figures.2.split: variant imu runs only on cross_subject, not 'cross_view'",
        "published.figures.3.experiment: variant two_stage runs no 'ratio10' (it runs full, "
        "ratio25, ratio50, hidden2_rgb, hidden2_imu)",
        "published.figures.3: the same figure as published.figures.1",
    ]


def test_backbone_init_from_names_a_variant_that_runs_every_run_of_this_one():
    cfg = default_config()
    variants = cfg["train"]["variants"]
    variants["lstm"] = copy.deepcopy(variants["rgb_finetuned"])
    variants["lstm"]["options"]["backbone"]["init_from"] = "rgb_finetuned"
    raise_problems(reference_problems(cfg))
    variants["lstm"]["options"]["backbone"]["init_from"] = "rgb_finetunde"
    with pytest.raises(ConfigError, match=r"init_from: 'rgb_finetunde' is not in train\.variants"):
        raise_problems(reference_problems(cfg))
    variants["lstm"]["options"]["backbone"].update(init_from="rgb_finetuned", arch="resnet50")
    with pytest.raises(ConfigError, match="rgb_finetuned does not fine-tune a resnet50"):
        raise_problems(reference_problems(cfg))
    variants["lstm"]["options"]["backbone"]["arch"] = "resnet18"
    variants["lstm"]["options"]["backbone"]["init_from"] = "lstm"
    with pytest.raises(ConfigError, match=r"a cycle \(lstm -> lstm\)"):
        raise_problems(reference_problems(cfg))
    variants["lstm"]["options"]["backbone"]["init_from"] = "rgb_finetuned"
    cfg["experiments"]["ratio_variants"].append("lstm")
    with pytest.raises(ConfigError, match="rgb_finetuned runs no ratio25, ratio50, which lstm"):
        raise_problems(reference_problems(cfg))


def test_experiments_of_each_variant():
    cfg = default_config()
    raise_problems(reference_problems(cfg))
    assert list(experiments(cfg, "rgb")) == ["full"]
    assert list(experiments(cfg, "imu")) == ["full", "ratio25", "ratio50"]
    assert experiments(cfg, "two_stage")["hidden2_imu"] == {
        "name": "hidden2_imu",
        "hidden": "imu",
        "count": 2,
    }
    cfg["experiments"]["hidden_classes"] = [1, 5]
    raise_problems(reference_problems(cfg))
    assert [e for e in experiments(cfg, "two_stage") if "hidden" in e] == [
        "hidden1_rgb",
        "hidden1_imu",
        "hidden5_rgb",
        "hidden5_imu",
    ]
    assert experiments(cfg, "two_stage")["hidden5_rgb"]["count"] == 5
    cfg["experiments"]["hidden_classes"] = [1, 1]
    with pytest.raises(ConfigError, match=r"experiments\.hidden_classes"):
        validate_config(cfg)
    cfg["experiments"]["hidden_classes"] = 2
    assert feature_set(cfg, "rgb_video") == "video_cnn" and feature_set(cfg, "rgb") == "frame_cnn"
    params = feature_params(cfg, "video_cnn")
    assert params["encoder"] == "r3d_18" and params["batch_size"] == 4


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profile_keys_are_commented(profile):
    """Each top-level key of a profile has a comment on the line above."""
    lines = (REPO / "profiles" / profile / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if not line.strip() or line.startswith(("#", " ", "-")) or ":" not in line:
            continue
        assert lines[i - 1].startswith("#"), f"profiles/{profile}/config.yaml:{i + 1}"


def env_pins() -> dict[str, dict[str, str]]:
    """envs/{role}.yaml -> {package: pinned version} of its pip section."""
    pins = {}
    for path in sorted((REPO / "envs").glob("*.yaml")):
        deps = yaml.safe_load(path.read_text())["dependencies"]
        pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
        pins[path.stem] = dict(line.split("==") for line in pip)
    return pins


def test_environments_pin_the_lock():
    """Every environment pins exactly what the lock pins for its roots and their
    dependencies (what `make lock` writes); every root is a dependency of pyproject.toml
    within its range; every dependency a job imports is a root of some role. Compared
    with the lock file, not with whatever this machine has installed."""
    import tomllib

    from packaging.requirements import Requirement

    from tools import envpins
    from tools.lockcheck import read_lock

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    required = {(r := Requirement(d)).name.lower(): r.specifier for d in project["dependencies"]}
    locked = read_lock(LOCK)
    pins = env_pins()
    assert set(pins) == {"video", "audio", "torch", "io"}
    roots = {}
    for role, pinned in pins.items():
        path = REPO / "envs" / f"{role}.yaml"
        text = path.read_text()
        assert envpins.render(text, path, LOCK) == text, f"{path} is stale: run `make lock`"
        for name, version in pinned.items():
            assert locked[name] == version, (
                f"envs/{role}.yaml: {name}=={version}, lock {locked[name]}"
            )
        roots[role] = envpins.roots(text, path)
        for name in roots[role]:
            assert name in required, f"envs/{role}.yaml: root {name} is not in pyproject.toml"
            assert required[name].contains(pinned[name]), f"envs/{role}.yaml: {name} out of range"
    # the workflow runner's own packages need no job environment
    assert set(required) - {"snakemake", "jsonschema"} <= set().union(*roots.values())
    # transitive dependencies come along (torch's CUDA wheels), nothing beyond them
    assert "nvidia-cublas" in pins["torch"] and "torch" not in pins["io"]


def test_lock_pins_every_requirement_within_pyproject_ranges():
    """The lock holds every dependency (dev extras included) at a version pyproject.toml
    admits, and the holds of requirements/holds.txt at exactly their versions."""
    import tomllib

    from packaging.requirements import Requirement

    from tools.lockcheck import read_lock, read_pins

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = [d for d in project["optional-dependencies"]["dev"] if not d.startswith("harfuse")]
    locked = read_lock(LOCK)
    for spec in project["dependencies"] + extras + project["optional-dependencies"]["cluster"]:
        req = Requirement(spec)
        name = req.name.lower()
        assert name in locked, f"{name} is not in {LOCK.name}"
        assert req.specifier.contains(locked[name]), f"{LOCK.name}: {name} outside {req.specifier}"
    holds = read_pins((REPO / "requirements" / "holds.txt").read_text().splitlines())
    assert holds and all(locked[k] == v for k, v in holds.items())


def test_lockcheck_lists_every_difference():
    from tools.lockcheck import differences

    assert differences({"a": "1", "b": "2"}, {"a": "1", "b": "2"}) == []
    assert differences({"a": "1", "b": "2", "c": "3"}, {"a": "1.1", "b": "2", "d": "4"}) == [
        "a: locked 1, installed 1.1",
        "c: locked 3, not installed",
        "d: installed 4, not in the lock",
    ]


@pytest.mark.skipif(
    sys.version_info[:2] != (3, 11) or platform.machine() != "x86_64",
    reason="make venv checks the interpreter first: the lock is for CPython 3.11 on x86-64",
)
def test_make_venv_stops_before_installing_on_a_full_disk(tmp_path):
    """`make venv` checks the free space before it creates the environment: too little
    stops it at once, naming the folder and the space free, with nothing created."""
    import os

    from tools.diskcheck import free_gb, problem

    venv = tmp_path / "not" / "yet" / "venv"
    assert problem(0, venv) is None
    needed = round(free_gb(venv)) + 1000
    outer = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}  # under `make test`: not the outer make's
    done = subprocess.run(
        ["make", "-s", "venv", f"VENV={venv}", f"VENV_GB={needed}", f"PYTHON={sys.executable}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in outer},
    )
    assert done.returncode != 0
    assert f"{venv} needs about {float(needed):g} GB free" in done.stderr
    assert "GB free: free some space" in done.stderr
    assert not (tmp_path / "not").exists()


def _schema_defaults(node: dict, path: tuple[str, ...] = ()):
    """(path, default) of every key of the schema with a scalar or list default."""
    for key, sub in node.get("properties", {}).items():
        here = (*path, key)
        if "default" in sub and not isinstance(sub["default"], dict):
            yield here, sub["default"]
        yield from _schema_defaults(sub, here)


#: config.yaml keys that deliberately differ from the schema default, and why
DEMO_CHOICES = {
    ("experiments", "ratios"): "the demo shows a training-data ratio sweep (off by default)",
    ("experiments", "ratio_variants"): "the sweep runs three variants, not every one",
    ("experiments", "hidden_classes"): "the demo shows the hidden-class runs (off by default)",
    ("experiments", "hidden_variants"): "hidden-class runs of the feature-based two_stage only",
    ("train", "inputs", "skeleton_length"): "24 frames of the demo's 1.6-2.4 s clips: make demo "
    "stays under 5 minutes",
}


def test_every_default_is_the_schemas():
    """The dataclasses that take a config section default to the schema's defaults, and
    config.yaml sets every key it names to the schema default but for DEMO_CHOICES."""
    import dataclasses
    import inspect

    from harfuse.config_schema import default, node, schema
    from harfuse.flow.compute import compute_flow
    from harfuse.media.audio import AudioParams
    from harfuse.media.frames import FrameParams
    from harfuse.media.imu import IMUParams
    from harfuse.train.loop import TrainParams

    for keys, cls in {
        ("audio",): AudioParams,
        ("imu",): IMUParams,
        ("frames",): FrameParams,
        ("train", "params"): TrainParams,
    }.items():
        for field in dataclasses.fields(cls):
            where = f"{cls.__name__}.{field.name} vs {'.'.join((*keys, field.name))}"
            if field.default is dataclasses.MISSING:
                assert "default" not in node(*keys, field.name), where
            else:
                assert field.default == default(*keys, field.name), where
    signature = inspect.signature(compute_flow).parameters
    for name in ("backend", "batch_size", "mode", "torch_compile"):
        assert signature[name].default == default("flow", name), f"compute_flow({name}=)"

    config = default_config()
    for path, value in _schema_defaults(schema()):
        if path[0] in ("features", "train") and len(path) > 2 and path[1] in ("sets", "variants"):
            continue  # per-set / per-variant keys: the schema default fills in what is left out
        section = config
        for key in path[:-1]:
            section = section.get(key, {}) if isinstance(section, dict) else {}
        if not isinstance(section, dict) or path[-1] not in section or path in DEMO_CHOICES:
            continue
        assert section[path[-1]] == value, f"config.yaml {'.'.join(path)}: schema default {value}"


def test_schema_enums_are_the_registries():
    from harfuse.config_schema import node
    from harfuse.datasets import LAYOUTS
    from harfuse.encoders.backbones import IMAGE_BACKBONES, VIDEO_BACKBONES
    from harfuse.flow.compute import METHODS
    from harfuse.fusion import MODELS
    from harfuse.fusion.base import MODALITIES

    variant = node("train", "variants")["additionalProperties"]["properties"]
    features_set = node("features", "sets")["additionalProperties"]["properties"]
    pairs = {
        "dataset.layout": (node("dataset", "layout")["enum"], LAYOUTS),
        "flow.method": (node("flow", "method")["enum"], METHODS),
        "features.sets.*.encoder": (
            features_set["encoder"]["enum"],
            [*IMAGE_BACKBONES, *VIDEO_BACKBONES],
        ),
        "train.variants.*.model": (variant["model"]["enum"], MODELS),
        "train.variants.*.modalities": (variant["modalities"]["items"]["enum"], MODALITIES),
    }
    for key, (enum, registry) in pairs.items():
        assert sorted(enum) == sorted(registry), f"schema {key} {enum} vs code {list(registry)}"


def test_workers_auto_is_zero_on_a_cpu_job_and_a_share_of_the_cores_on_a_gpu(caplog):
    from harfuse.plan import loader_workers

    assert loader_workers("auto", on_gpu=False, cores=2) == 0
    assert loader_workers("auto", on_gpu=True, cores=16, gpus=2) == 7
    assert loader_workers("auto", on_gpu=True, cores=1) == 0
    assert loader_workers(2, on_gpu=False, cores=2) == 2 and not caplog.records
    assert loader_workers(4, on_gpu=False, cores=2) == 4
    (record,) = caplog.records  # one line
    assert "4 DataLoader processes for the 2 cores this job may use" in record.getMessage()
