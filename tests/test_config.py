import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

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
