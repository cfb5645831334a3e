import copy
import re

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from harfuse.plan import ConfigError, check_config, experiments, feature_params, feature_set

from .conftest import REPO

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


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
            lambda c: c["train"]["variants"]["rgb"].update(modalities=["depth"]),
            ["'depth' is not one of", "['train']['variants']['rgb']['modalities'][0]"],
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
        check_config(cfg)


def test_experiments_of_each_variant():
    cfg = default_config()
    check_config(cfg)
    assert list(experiments(cfg, "rgb")) == ["full"]
    assert list(experiments(cfg, "imu")) == ["full", "ratio25", "ratio50"]
    assert experiments(cfg, "two_stage")["hidden_imu"] == {
        "name": "hidden_imu",
        "hidden": "imu",
        "count": 2,
    }
    assert feature_set(cfg, "rgb_video") == "video_cnn" and feature_set(cfg, "rgb") == "frame_cnn"
    params = feature_params(cfg, "video_cnn")
    assert params["encoder"] == "r3d_18" and params["batch_size"] == 4
