"""Dataset skeletons through the whole DAG: NTU RGB+D (``ntu_rgbd`` layout, both of its
official protocols) and UTD-MHAD (Kinect v1 ``.mat``), bad files quarantined with their
reason while the other samples go on (tests/kinect_dag.py's runs, which the depth variants
share). (RGB + skeleton fusion runs in the demo.)"""

from __future__ import annotations

import h5py
import pandas as pd
import pytest
import yaml

from harfuse.datasets.ntu_rgbd import FIXTURE_EMPTY
from harfuse.plan import experiments

from .kinect_dag import NO_D_SKEL, TRUNCATED

pytestmark = pytest.mark.slow


def test_ntu_rgbd_skeletons_on_both_official_protocols(kinect_runs):
    results = kinect_runs["ntu_rgbd"] / "results/ntu_rgbd"
    summary = pd.read_csv(results / "report/summary.csv")
    runs = set(zip(summary["variant"], summary["split"], strict=True))
    assert {s for v, s in runs if v == "skeleton"} == {"cross_subject", "cross_view"}
    with h5py.File(results / "skeleton/shard-0.h5", "r") as f:
        sid = "S001C002P001R001A001"  # one actor and a flickering false body
        assert f[sid]["skeleton"].shape[1:] == (2, 25, 3)
        assert f[sid]["skeleton"].attrs["joint_format"] == "kinect_v2_25"
        assert f[sid]["detected"][:, 0].all()  # the actor, chosen over the flicker
    quarantine = pd.read_parquet(results / "skeleton/shard-0.quarantine.parquet")
    reasons = dict(zip(quarantine["sample_id"], quarantine["reason"], strict=True))
    assert "truncated" in reasons[TRUNCATED] and f"{TRUNCATED}.skeleton" in reasons[TRUNCATED]
    assert "no body in any" in reasons[FIXTURE_EMPTY]


def test_utd_mhad_skeletons_with_the_imu_in_two_stages(kinect_runs):
    workdir = kinect_runs["utd_mhad"]
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
