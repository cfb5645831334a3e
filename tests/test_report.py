import json

import numpy as np
import pandas as pd
import pytest

from harfuse.stages import report
from harfuse.store.quarantine import write_quarantine

CLASSES = ["jump", "wave", "clap"]


def write_run(tmp_path, variant, split, experiment="full", top1=0.5, **extra):
    path = tmp_path / f"{variant}-{split}-{experiment}.json"
    history = [
        {"phase": "joint", "epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "val_top1": 0.5}
        for e in (1, 2, 3)
    ]
    metrics = {
        "variant": variant,
        "modalities": ["rgb", "imu"] if "fusion" in variant else ["imu"],
        "split": split,
        "experiment": experiment,
        "ratio": 1.0,
        "top1": top1,
        "top5": 1.0,
        "macro_f1": top1 - 0.1,
        "mean_class_acc": top1,
        "confusion": np.eye(3, dtype=int).tolist(),
        "history": history,
        "environment": "CPU X, 2 cores, Linux x86_64, Python 3.11.7; torch 2.14.1",
        "torch_threads": 1,
        **extra,
    }
    path.write_text(json.dumps(metrics))
    return path


@pytest.fixture
def finished(tmp_path):
    runs = [
        write_run(tmp_path, "imu", "split1", top1=0.4),
        write_run(tmp_path, "imu", "split2", top1=0.6),
        write_run(tmp_path, "fusion", "split1", top1=0.9),
        write_run(tmp_path, "fusion", "split2", top1=0.7),
        write_run(tmp_path, "imu", "split1", "ratio50", top1=0.3, ratio=0.5, torch_threads=2),
        write_run(
            tmp_path,
            "fusion",
            "split1",
            "hidden_imu",
            top1=0.6,
            ratio=None,
            hidden_classes=["wave"],
            top1_hidden=0.25,
            top1_seen=0.75,
        ),
    ]
    rows = [{"sample_id": f"v{i}", "stage": "manifest", "reason": "no audio"} for i in range(30)]
    write_quarantine(tmp_path / "q1.parquet", rows)
    write_quarantine(tmp_path / "q2.parquet", rows[:5])  # a repeat from another run
    (tmp_path / "classes.json").write_text(json.dumps(CLASSES))
    bench = tmp_path / "benchmarks"
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    for rule, shard, seconds, rss in [
        ("extract_frames", 0, 2.0, 100.0),
        ("extract_frames", 1, 4.0, 150.0),
        ("train_variant", 0, 10.0, 300.0),
    ]:
        path = bench / rule / "ds" / f"shard-{shard}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{seconds}\t0:00:0{seconds:.0f}\t{rss}\t1\t1\t1\t0\t0\t50\t1.5\n")
    out = tmp_path / "report"
    report.run(
        runs,
        [tmp_path / "q1.parquet", tmp_path / "q2.parquet"],
        tmp_path / "classes.json",
        ["a note"],
        out,
        benchmark_paths=report.benchmark_files(bench, "ds"),
        benchmark_root=bench,
    )
    return out


def test_summary_rows_and_order(finished):
    summary = pd.read_csv(finished / "summary.csv")
    assert list(summary.columns) == report.COLUMNS
    assert list(zip(summary["variant"], summary["split"], summary["experiment"], strict=True)) == [
        ("fusion", "split1", "full"),
        ("imu", "split1", "full"),
        ("fusion", "split1", "hidden_imu"),
        ("imu", "split1", "ratio50"),
        ("fusion", "split2", "full"),
        ("imu", "split2", "full"),
    ]
    assert summary["modalities"][0] == "rgb+imu"
    assert summary["top1_hidden"].notna().sum() == 1


def test_mean_and_std_over_splits(finished):
    agg = pd.read_csv(finished / "aggregate.csv").set_index(["variant", "experiment"])
    assert agg.loc[("fusion", "full"), "top1_mean"] == pytest.approx(0.8)
    assert agg.loc[("fusion", "full"), "top1_std"] == pytest.approx(
        np.std([0.9, 0.7], ddof=1), abs=1e-4
    )
    assert agg.loc[("imu", "full"), "n_splits"] == 2
    assert agg.loc[("imu", "ratio50"), "n_splits"] == 1
    md = (finished / "summary.md").read_text()
    assert "| fusion | full | 2 | 0.800 ± 0.141 |" in md


def test_markdown_sections(finished):
    md = (finished / "summary.md").read_text()
    assert "| fusion | rgb+imu | split1 | full | 0.900 | 1.000 | 0.800 | 0.900 |" in md
    assert "- a note" in md
    assert "| fusion | split1 | hidden_imu | wave | 0.250 | 0.750 | 0.600 |" in md
    assert "- manifest: 30 samples" in md and "10 more rows in quarantine.csv." in md
    assert "| v19 | manifest | no audio |" in md and "| v20 |" not in md
    assert len(pd.read_csv(finished / "quarantine.csv")) == 30
    where = "- 5 runs: CPU X, 2 cores, Linux x86_64, Python 3.11.7; torch 2.14.1; 1 torch thread"
    assert where in md and md.count("torch threads\n") == 1  # the ratio50 run, 2 threads


def test_figures_are_pngs(finished):
    for name in ("confusion", "variants", "learning_curves", "ratio_sweep"):
        data = (finished / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000, name


def test_time_and_memory_per_stage(finished):
    table = pd.read_csv(finished / "benchmarks.csv").set_index("rule")
    assert list(table.index) == ["train_variant", "extract_frames"]  # by total time
    frames = table.loc["extract_frames"]
    assert (frames["jobs"], frames["total_s"], frames["mean_s"], frames["max_s"]) == (2, 6, 3, 4)
    assert frames["cpu_s"] == 3 and frames["max_rss_mb"] == 150
    md = (finished / "summary.md").read_text()
    assert "## Time and memory per stage" in md
    assert "| extract_frames | 2 | 6.000 | 3.000 | 4.000 | 3.000 | 150.000 |" in md
