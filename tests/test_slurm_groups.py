"""profiles/slurm-grouped: each shard's stage jobs go to SLURM as 2 grouped jobs (README,
"Clusters"), checked without SLURM.

A dry run (`snakemake -n --profile profiles/slurm-grouped`) prints, for every grouped job
it would submit, a ``Group job NAME (jobs in lexicogr. order):`` line followed by its jobs
indented; a job outside any group is printed unindented. The tests count those blocks on
a fixture with one sample per shard, after its manifest is built, which is also the
case of any restart of a large run (the manifest exists when Snakemake starts).

Why groups by shard and not one group per stage holding N shards (`--groups
extract_frames=frames --group-components frames=N`): Snakemake 9.27 forms the groups again
when the manifest exists at start and merges the first pass's groups once more (snakemake
issue #1217, open). Tried on this fixture layout (24 shards, N=5): the dry run printed a
frames group of all 24 shards beside the groups of 5, listing every frames job twice, and
with only extract_frames grouped it went on printing group jobs (8,537 in the 60 s before
it was stopped); under a cluster executor
(snakemake-executor-plugin-cluster-generic) the same restart ran the frames jobs twice,
in groups of 5 and in one of 24. Groups named after their shard never hold two shards, so
that second pass has nothing to merge: the test below runs in that very case."""

from __future__ import annotations

import importlib.util
import math
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from harfuse.datasets import adapter
from harfuse.store.manifest import read_manifest

from .helpers import REPO, job_counts, snakemake, tiny_config, write_config

PROFILES = REPO / "profiles"
GROUPED = PROFILES / "slurm-grouped"
#: Kinetics-400 as first released (Kay et al. 2017): train, validation and test clips
K400_CLIPS = 306_245
#: the keys the grouped profile adds to profiles/slurm
GROUPING_KEYS = {"groups", "group-components", "set-resource-scopes"}


def profile(path: Path) -> dict:
    return yaml.safe_load((path / "config.yaml").read_text())


def per_shard_rules() -> set[str]:
    """Rules of workflow/rules/ that write one file per shard (``shard-{shard}``)."""
    rules = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        # [text before the first rule, name, body, name, body, ...]
        blocks = re.split(r"^(?:rule|checkpoint) (\w+):$", smk.read_text(), flags=re.M)
        bodies = zip(blocks[1::2], blocks[2::2], strict=True)
        rules |= {name for name, body in bodies if "shard-{shard}" in body}
    return rules


def grouped_jobs(samples: int, samples_per_shard: int, runs: int) -> int:
    """SLURM jobs of a whole run with profiles/slurm-grouped: 2 per shard (decode_,
    compute_), the manifest, the training runs and the report."""
    return 2 * math.ceil(samples / samples_per_shard) + 1 + runs + 1


def dry_run_jobs(output: str) -> tuple[list[tuple[str, list[dict]]], list[dict]]:
    """The jobs a dry run prints: ``[(group name, [job, ...]), ...]`` for the grouped jobs
    (one entry per group job; a name may come more than once) and the ungrouped jobs; each
    job is ``{"rule", "output": [...], "wildcards": {...}}``."""
    groups: list[tuple[str, list[dict]]] = []
    ungrouped: list[dict] = []
    group: list[dict] | None = None
    job: dict | None = None
    for line in output.splitlines():
        if m := re.search(r"Group job (\S+) \(jobs in lexicogr\. order\):$", line):
            groups.append((m[1], group := []))
            job = None
        elif m := re.match(r"^( *)(?:local)?(?:rule|checkpoint) (\w+):$", line):
            job = {"rule": m[2], "output": [], "wildcards": {}}
            if m[1] and group is not None:
                group.append(job)
            else:
                group = None
                ungrouped.append(job)
        elif job is not None and (m := re.match(r"^ +(output|wildcards): (.*)$", line)):
            if m[1] == "output":
                job["output"] = m[2].split(", ")
            else:
                job["wildcards"] = dict(kv.split("=", 1) for kv in m[2].split(", "))
    return groups, ungrouped


def test_grouped_profile_is_profiles_slurm_plus_grouping():
    base, grouped = profile(PROFILES / "slurm"), profile(GROUPED)
    assert {key: grouped.get(key) for key in base} == base, "profiles/slurm changed: repeat it"
    assert set(grouped) - set(base) == GROUPING_KEYS
    # every per-shard stage is grouped, by its shard, into one of 2 kinds of group
    assert set(grouped["groups"]) == per_shard_rules()
    assert set(grouped["groups"].values()) == {"decode_{shard}", "compute_{shard}"}
    assert set(grouped["group-components"]) == set(grouped["groups"].values())
    assert grouped["set-resource-scopes"] == {"gpu": "local"}


def test_kinetics_400_stays_under_1000_slurm_jobs():
    # the README's arithmetic: 2 grouped jobs per shard of 1,024 clips
    assert math.ceil(K400_CLIPS / 1024) == 300
    assert grouped_jobs(K400_CLIPS, 1024, runs=3) == 605  # configs/kinetics400.yaml's 3 runs
    assert grouped_jobs(K400_CLIPS, 256, runs=3) == 2 * 1_197 + 5
    assert grouped_jobs(K400_CLIPS, 1024, runs=398) == 1000  # room for 398 training runs
    # without grouping: a job per shard and stage (frames, audio, flow, one feature set)
    assert 4 * math.ceil(K400_CLIPS / 64) == 19_144
    assert 4 * math.ceil(K400_CLIPS / 256) == 4_788
    assert 4 * math.ceil(K400_CLIPS / 1024) == 1_200


@pytest.fixture(scope="module")
def one_sample_shards(tmp_path_factory) -> tuple[Path, int]:
    """UCF-51's fixture (video with sound), one sample per shard, its manifest built:
    frames and audio per shard, flow and 2 feature sets on the frames. Returns the working
    directory and the number of shards."""
    root = adapter("ucf51").write_fixture(tmp_path_factory.mktemp("ucf51") / "data")
    cfg = tiny_config("ucf51", root)
    cfg["dataset"]["samples_per_shard"] = 1
    cfg["features"]["sets"]["second"] = {**cfg["features"]["sets"]["frame_cnn"], "num_frames": 2}
    cfg["train"]["variants"] = {
        "rgb": {"model": "single", "modalities": ["rgb"]},
        "rgb_second": {"model": "single", "modalities": ["rgb"], "features": "second"},
        "flow": {"model": "single", "modalities": ["flow"]},
        "audio": {"model": "single", "modalities": ["audio"]},
    }
    workdir = tmp_path_factory.mktemp("grouped")
    write_config(workdir, cfg)
    name = cfg["dataset"]["name"]
    snakemake(workdir, f"results/{name}/manifest.parquet")
    shards = read_manifest(workdir / f"results/{name}/manifest.parquet")["shard"].nunique()
    assert shards == 16  # the fixture's 16 clips with sound
    return workdir, shards


@pytest.mark.slow
def test_dry_run_submits_two_grouped_jobs_per_shard(one_sample_shards):
    workdir, shards = one_sample_shards
    # the profile as it is; without the SLURM plugin, the same groups on the local executor
    # (a dry run forms groups either way)
    plugin = importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None
    executor = [] if plugin else ["--executor", "local"]
    out = snakemake(workdir, "--dry-run", "--profile", str(GROUPED), *executor)
    groups, ungrouped = dry_run_jobs(out)

    names = [name for name, _ in groups]
    assert sorted(names) == sorted(
        f"{kind}_{k}" for kind in ("decode", "compute") for k in range(shards)
    )
    for name, jobs in groups:
        kind, shard = name.split("_")
        assert {job["wildcards"]["shard"] for job in jobs} == {shard}, name
        assert sorted(job["rule"] for job in jobs) == (
            ["extract_audio", "extract_frames"]
            if kind == "decode"
            else ["compute_flow", "extract_features", "extract_features"]
        ), name
    runs = job_counts(out)["train_variant"]
    assert Counter(job["rule"] for job in ungrouped) == {
        "train_variant": runs,
        "build_report": 1,
        "all": 1,
    }
    # `all` has no command: Snakemake finishes it itself, it is not submitted
    submitted = len(groups) + sum(job["rule"] != "all" for job in ungrouped)
    assert submitted == grouped_jobs(shards, 1, runs) - 1  # the manifest is built already
    # every output is written by exactly one job, in exactly one submission
    outputs = [f for _, jobs in groups for job in jobs for f in job["output"]]
    outputs += [f for job in ungrouped for f in job["output"]]
    assert len(outputs) == len(set(outputs))
