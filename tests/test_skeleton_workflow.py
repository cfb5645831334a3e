"""Dataset skeletons through the whole DAG: NTU RGB+D (``ntu_rgbd`` layout, both of its
official protocols) and UTD-MHAD (Kinect v1 ``.mat``), bad files quarantined with their
reason while the other samples go on. (RGB + skeleton fusion runs in the demo.)"""

from __future__ import annotations

from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml
from scipy.io import savemat

from harfuse.datasets import adapter
from harfuse.datasets.ntu_rgbd import FIXTURE_EMPTY
from harfuse.plan import experiments

from .helpers import REPO, run_configs

pytestmark = pytest.mark.slow
TRUNCATED = "S001C001P001R001A001"  # its .skeleton file is cut in the middle of a frame
NO_D_SKEL = "a2_s3_t1"  # its .mat holds another variable


def shrunk(name: str, root: Path, variants: dict) -> dict:
    """``configs/{name}.yaml`` on the fixture at ``root`` with ``variants``, in seconds."""
    cfg = yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())
    cfg["dataset"]["root"] = str(root)
    cfg["frames"].update(fps=4.0, size=32)
    cfg["train"]["params"].update(epochs=2, batch_size=8)
    cfg["train"]["inputs"]["skeleton_length"] = 16
    for spec in cfg["features"]["sets"].values():
        spec.update(weights="none", encoder="r3d_18", num_frames=2, input_size=[32, 32])
    cfg["train"]["variants"] = variants
    cfg["experiments"] = {"ratios": [], "hidden_classes": 1 if name == "utd_mhad" else 0}
    return cfg


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("skeleton-dag")
    ntu = adapter("ntu_rgbd").write_fixture(base / "ntu")
    skeleton = ntu / "nturgb+d_skeletons" / f"{TRUNCATED}.skeleton"
    lines = skeleton.read_text().splitlines(keepends=True)
    skeleton.write_text("".join(lines[: len(lines) // 2 + 3]))
    utd = adapter("utd_mhad").write_fixture(base / "utd")
    savemat(utd / "Skeleton" / f"{NO_D_SKEL}_skeleton.mat", {"skel": [[0.0]]})
    single = {"model": "single", "modalities": ["skeleton"]}
    runs = {
        "ntu_rgbd": shrunk(
            "ntu_rgbd",
            ntu,
            {"skeleton": single},
        ),
        "utd_mhad": shrunk(
            "utd_mhad",
            utd,
            {
                "skeleton_tcn": {**single, "options": {"encoders": {"skeleton": "skeleton_tcn"}}},
                "skeleton_imu": {"model": "two_stage", "modalities": ["skeleton", "imu"]},
            },
        ),
    }
    return run_configs(base, runs)


def test_ntu_rgbd_skeletons_on_both_official_protocols(finished):
    results = finished["ntu_rgbd"] / "results/ntu_rgbd"
    summary = pd.read_csv(results / "report/summary.csv")
    runs = set(zip(summary["variant"], summary["split"], strict=True))
    assert runs == {("skeleton", s) for s in ("cross_subject", "cross_view")}
    with h5py.File(results / "skeleton/shard-0.h5", "r") as f:
        sid = "S001C002P001R001A001"  # one actor and a flickering false body
        assert f[sid]["skeleton"].shape[1:] == (2, 25, 3)
        assert f[sid]["skeleton"].attrs["joint_format"] == "kinect_v2_25"
        assert f[sid]["detected"][:, 0].all()  # the actor, chosen over the flicker
    quarantine = pd.read_parquet(results / "skeleton/shard-0.quarantine.parquet")
    reasons = dict(zip(quarantine["sample_id"], quarantine["reason"], strict=True))
    assert "truncated" in reasons[TRUNCATED] and f"{TRUNCATED}.skeleton" in reasons[TRUNCATED]
    assert "no body in any" in reasons[FIXTURE_EMPTY]


def test_utd_mhad_skeletons_with_the_imu_in_two_stages(finished):
    workdir = finished["utd_mhad"]
    results = workdir / "results/utd_mhad"
    summary = pd.read_csv(results / "report/summary.csv")
    cfg = yaml.safe_load((workdir / "config.yaml").read_text())
    expected = {
        (v, "cross_subject", e) for v in cfg["train"]["variants"] for e in experiments(cfg, v)
    }
    assert set(zip(summary["variant"], summary["split"], summary["experiment"], strict=True)) == (
        expected
    )
    assert "hidden1_skeleton" in set(summary["experiment"])
    quarantine = pd.read_parquet(results / "skeleton/shard-0.quarantine.parquet")
    assert quarantine["sample_id"].tolist() == [NO_D_SKEL]
    assert "no d_skel variable" in quarantine["reason"][0]
    assert summary.loc[summary["experiment"] == "full", "n_test"].min() > 0
