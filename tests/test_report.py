import json

import numpy as np
import pandas as pd
import pytest

from harfuse import plots
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
            "hidden1_imu",
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
    assert list(summary.columns) == [c for c in report.COLUMNS if c != "top5"]  # 3 classes
    assert list(zip(summary["variant"], summary["split"], summary["experiment"], strict=True)) == [
        ("fusion", "split1", "full"),
        ("imu", "split1", "full"),
        ("fusion", "split1", "hidden1_imu"),
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
    assert "| fusion | rgb+imu | split1 | full | 0.900 | 0.800 | 0.900 |  |" in md
    assert "- a note" in md
    assert "| fusion | split1 | hidden1_imu | wave | 0.250 | 0.750 | 0.600 | 30.0 |" in md
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


def report_of(tmp_path, runs, classes=CLASSES, quarantine=()):
    """``report.run`` on ``runs`` (paths) and ``quarantine`` rows; the output folder."""
    write_quarantine(tmp_path / "q.parquet", quarantine)
    (tmp_path / "classes.json").write_text(json.dumps(classes))
    out = tmp_path / "report"
    report.run(runs, [tmp_path / "q.parquet"], tmp_path / "classes.json", [], out)
    return out


def test_test_samples_lacking_a_modality_per_variant(tmp_path):
    runs = [
        # audio: 3 of its 10 evaluated test clips had no audio track (read as silence)
        write_run(
            tmp_path,
            "audio",
            "split1",
            top1=0.6,
            modalities=["audio"],
            n_test=10,
            n_test_dropped=0,
            test_lacking={"audio": {"missing": 0, "no_track": 3}},
        ),
        write_run(
            tmp_path,
            "audio",
            "split1",
            "ratio50",
            modalities=["audio"],
            n_test=10,
            n_test_dropped=0,
            test_lacking={"audio": {"missing": 0, "no_track": 3}},
        ),
        # imu: 2 of the split's 12 test samples had no IMU and were left out
        write_run(
            tmp_path,
            "imu",
            "split1",
            n_test=10,
            n_test_dropped=2,
            test_lacking={"imu": {"missing": 2}},
        ),
        write_run(
            tmp_path,
            "fusion",
            "split1",
            n_test=12,
            n_test_dropped=0,
            test_lacking={"rgb": {"missing": 0}, "imu": {"missing": 0}},
        ),
    ]
    out = report_of(tmp_path, runs)
    csv = (out / "summary.csv").read_text().splitlines()
    assert csv[0].endswith(
        ",top1_hidden,top1_seen,n_test,n_test_dropped,n_test_no_audio,kept_epoch"
    )
    by_run = {tuple(line.split(",")[:4:3]): line for line in csv[1:]}  # (variant, experiment)
    assert by_run["audio", "full"].endswith(",,,10,0,3,")
    assert by_run["imu", "full"].endswith(",,,10,2,,")  # no audio: no count
    assert by_run["fusion", "full"].endswith(",,,12,0,,")
    md = (out / "summary.md").read_text()
    assert "| audio | audio | split1 | full | 0.600 | 0.500 | 0.600 | 10 (3 without audio) |" in md
    assert "| imu | imu | split1 | full | 0.500 | 0.400 | 0.500 | 10 (2 left out) |" in md
    assert "| fusion | rgb+imu | split1 | full | 0.500 | 0.400 | 0.500 | 12 |" in md
    section = md.split("## Test samples lacking a modality")[1].split("##")[0]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert lines == [  # once per variant and split, whatever the experiments
        "- audio (split1): 3 of 10 test samples had no audio track: evaluated on silence",
        "- imu (split1): 2 of 12 test samples had no imu: left out",
    ]


def test_a_class_without_test_samples_is_named_in_red_and_the_classes_scored_said(tmp_path):
    walking = {"walking": "all 8 of its test samples lack a modality of the run"}
    runs = [
        write_run(tmp_path, "skel", "split1", classes_scored=3, classes_without_test=walking),
        write_run(
            tmp_path, "skel", "split1", "ratio50", classes_scored=3, classes_without_test=walking
        ),
        write_run(tmp_path, "rgb", "split1", classes_scored=3, classes_without_test={}),
    ]
    md = (report_of(tmp_path, runs) / "summary.md").read_text()
    assert (
        "- macro_f1 and mean_class_acc: means over all 3 classes of the run (jump, wave, "
        "clap); a class without a test sample counts 0 (Classes without a test sample, "
        "below)" in md
    )
    section = md.split("## Classes without a test sample")[1].split("##")[0]
    assert [line for line in section.splitlines() if line.startswith("- ")] == [
        '- <span style="color:red">skel (split1): no test sample of walking (all 8 of its '
        "test samples lack a modality of the run)</span>"
    ]
    runs = [write_run(tmp_path, "rgb", "split1", classes_scored=3, classes_without_test={})]
    out = report_of(tmp_path, runs)
    assert "## Classes without" not in (out / "summary.md").read_text()
    assert not (out / "ratio_sweep.png").exists()  # no sweep: no empty picture


def test_kept_epoch_and_a_model_predicting_one_class(tmp_path):
    def history(phases):
        return [
            {"phase": ph, "epoch": e, "train_loss": 1.0, "val_loss": 1.0, "kept": e == kept}
            for ph, (ran, kept) in phases.items()
            for e in range(1, ran + 1)
        ]

    runs = [
        write_run(
            tmp_path,
            "imu",
            "s1",
            history=history({"joint": (12, 1)}),
            n_test=24,
            predicts_one_class="jump",
        ),
        write_run(tmp_path, "fusion", "s1", history=history({"stage1": (5, 3), "stage2": (4, 4)})),
    ]
    out = report_of(tmp_path, runs)
    table = pd.read_csv(out / "summary.csv").set_index("variant")["kept_epoch"]
    assert table.to_dict() == {"imu": "1/12", "fusion": "stage1 3/5, stage2 4/4"}
    md = (out / "summary.md").read_text()
    assert "| 1/12 |" in md and "| stage1 3/5, stage2 4/4 |" in md
    assert (
        '- <span style="color:red">imu (s1, full) predicts one class, jump, for all 24 test '
        "samples" in md
    )
    assert md.count("predicts one class") == 1


def test_no_lacking_section_line_says_so(tmp_path):
    runs = [write_run(tmp_path, "imu", "s1", n_test=4, n_test_dropped=0, test_lacking={})]
    md = (report_of(tmp_path, runs) / "summary.md").read_text()
    assert "Every test sample had every modality of its variant." in md


def test_quarantine_counts_distinct_samples_beside_rows(tmp_path):
    rows = [
        {"sample_id": "a", "stage": "train", "reason": "no rgb for a"},
        {"sample_id": "a", "stage": "train", "reason": "no imu for a"},
        {"sample_id": "b", "stage": "train", "reason": "no imu for b"},
        {"sample_id": "c", "stage": "train", "reason": "no imu for c"},
        {"sample_id": "c", "stage": "train", "reason": "no audio for c"},
        {"sample_id": "c", "stage": "imu", "reason": "no IMU file"},
    ]
    out = report_of(tmp_path, [write_run(tmp_path, "imu", "s1")], quarantine=rows)
    md = (out / "summary.md").read_text()
    assert "3 samples (6 rows) in quarantine.csv; by stage:" in md
    assert "- train: 3 samples (5 rows)" in md and "- imu: 1 sample (1 row)" in md
    assert len(pd.read_csv(out / "quarantine.csv")) == 6


def test_confusion_matrices_write_the_counts(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    confusion = [[3, 1, 0], [0, 2, 2], [0, 0, 4]]
    plots.confusion_matrices(
        [{"variant": "imu", "split": "s1", "confusion": confusion}], CLASSES, tmp_path / "c.png"
    )
    (ax, *_) = figures[0].axes
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    assert {cell: int(t.get_text()) for cell, t in cells.items()} == {
        (i, j): n for i, row in enumerate(confusion) for j, n in enumerate(row)
    }
    assert cells[(0, 0)].get_color() == "white" and cells[(0, 1)].get_color() == "black"
    assert "n = 12" in ax.get_title()
    assert "row-normalised" in figures[0].get_suptitle()
    # colour = share of the true class
    np.testing.assert_allclose(ax.images[0].get_array()[1], [0, 0.5, 0.5])


def test_many_classes_write_only_nonzero_counts(monkeypatch, tmp_path):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: figures.append(fig))
    k = plots.ALL_COUNTS_UP_TO + 1
    confusion = np.eye(k, dtype=int).tolist()
    classes = [f"c{i}" for i in range(k)]
    plots.confusion_matrices(
        [{"variant": "v", "split": "s", "confusion": confusion}], classes, tmp_path / "c.png"
    )
    assert len(figures[0].axes[0].texts) == k


@pytest.mark.parametrize("n_classes, shown", [(3, False), (5, False), (6, True)])
def test_top5_only_with_more_than_five_classes(tmp_path, n_classes, shown):
    classes = [f"c{i}" for i in range(n_classes)]
    runs = [write_run(tmp_path, "imu", "s1"), write_run(tmp_path, "imu", "s2")]
    out = report_of(tmp_path, runs, classes)
    assert ("top5" in pd.read_csv(out / "summary.csv").columns) == shown
    assert ("top5_mean" in pd.read_csv(out / "aggregate.csv").columns) == shown
    md = (out / "summary.md").read_text()
    assert ("top5" in md) == shown
    note = f"- top-5 not shown: with {n_classes} classes every label is among the 5 highest"
    assert (note in md) == (not shown)


def write_model(tmp_path, variant, split, experiment="full", weights=None, backbone=None):
    """A run's ``model.json``: rgb features of ``weights`` (None: no rgb) or a fine-tuned
    ``backbone`` (its options)."""
    path = tmp_path / f"{variant}-{split}-{experiment}.model.json"
    preprocessing = {"imu": {"rate": 50.0}}
    if weights is not None:
        preprocessing["features"] = {"encoder": "s3d", "weights": weights}
    options = {} if backbone is None else {"backbone": backbone}
    path.write_text(
        json.dumps(
            {
                "variant": variant,
                "split": split,
                "experiment": {"name": experiment},
                "options": options,
                "preprocessing": preprocessing,
            }
        )
    )
    return path


#: a recipe's ``published:`` block (figures of a UTD-MHAD paper)
PUBLISHED = {
    "classes": 3,  # CLASSES: the dataset of these tests is "the published one"
    "figures": [
        {
            "variant": "fusion",
            "metric": "top1",
            "value": 96.05,
            "experiment": "full",
            "source": "Video and IMU fusion, Table 3",
        },
        {
            "variant": "imu",
            "metric": "top1",
            "value": 85.42,
            "split": "split1",
            "experiment": "full",
            "source": "ibid.",
        },
    ],
}


def published_report(tmp_path, runs, models, published=PUBLISHED, **kw):
    """``report.run`` with a ``published`` block; ``summary.md``'s Published section and
    ``published.csv``."""
    write_quarantine(tmp_path / "q.parquet", [])
    (tmp_path / "classes.json").write_text(json.dumps(CLASSES))
    out = tmp_path / "report"
    kw = {"layout": "utd_mhad", **kw}
    report.run(
        runs,
        [tmp_path / "q.parquet"],
        tmp_path / "classes.json",
        [],
        out,
        model_paths=models,
        published=published,
        **kw,
    )
    md = (out / "summary.md").read_text()
    section = md.split("## Published figures\n")[1].split("\n## ")[0]
    table = [line for line in section.splitlines() if line.startswith("| ")]
    return table[1:], pd.read_csv(out / "published.csv", keep_default_na=False)


def test_published_figures_beside_ours_with_the_difference(tmp_path):
    runs = [
        write_run(tmp_path, "fusion", "split1", top1=0.9),
        write_run(tmp_path, "fusion", "split2", top1=0.94),
        write_run(tmp_path, "imu", "split1", top1=0.8),
        write_run(tmp_path, "imu", "split2", top1=0.3),
    ]
    models = [
        write_model(tmp_path, "fusion", s, weights="kinetics400") for s in ("split1", "split2")
    ]
    rows, csv = published_report(tmp_path, runs, models)
    assert rows == [
        "| fusion | full | top1 | mean of 2 splits | 96.05 | 92.00 | -4.05 | "
        "Video and IMU fusion, Table 3 |",
        "| imu | full | top1 | split1 | 85.42 | 80.00 | -5.42 | ibid. |",
    ]
    assert list(csv.columns) == report.PUBLISHED_COLUMNS
    assert csv.iloc[0].to_dict() == {
        "variant": "fusion",
        "experiment": "full",
        "metric": "top1",
        "split": "",
        "n_splits": 2,
        "published": 96.05,
        "ours": 92.0,
        "difference": -4.05,
        "not_compared": "",
        "source": "Video and IMU fusion, Table 3",
    }
    # summary.csv keeps its shape with a published block
    summary = pd.read_csv(tmp_path / "report" / "summary.csv")
    assert list(summary.columns) == [c for c in report.COLUMNS if c != "top5"]


@pytest.mark.parametrize(
    ("backbone", "why"),
    [
        (None, "rgb features from random weights (weights: none, frozen)"),
        ({"arch": "s3d"}, "rgb backbone trained from random weights (backbone weights: none)"),
    ],
)
def test_published_figures_of_random_weights_are_not_compared(tmp_path, backbone, why):
    runs = [
        write_run(tmp_path, "fusion", "split1", top1=0.9),
        write_run(tmp_path, "imu", "split1", top1=0.8),
    ]
    models = [
        write_model(tmp_path, "fusion", "split1", weights="none", backbone=backbone),
        write_model(tmp_path, "imu", "split1"),
    ]
    rows, csv = published_report(tmp_path, runs, models)
    assert rows == [
        f"| fusion | full | top1 | split1 | 96.05 |  | not compared: {why} | "
        "Video and IMU fusion, Table 3 |",
        "| imu | full | top1 | split1 | 85.42 | 80.00 | -5.42 | ibid. |",  # no rgb
    ]
    assert csv["not_compared"].tolist() == [why, ""]
    assert csv["ours"].tolist() == ["", "80.00"]  # empty where not compared


@pytest.mark.parametrize(
    ("published", "kw", "why"),
    [
        (PUBLISHED, {"layout": "demo"}, "the demo dataset (layout demo)"),
        ({**PUBLISHED, "classes": 27}, {}, "a dataset of 3 classes, the published one has 27"),
        (
            {**PUBLISHED, "min_samples": 861},
            {"manifest": 4},
            "a dataset of 4 samples, fewer than the published 861",
        ),
    ],
)
def test_published_figures_on_a_fixture_are_not_compared(tmp_path, published, kw, why):
    if "manifest" in kw:
        manifest = pd.DataFrame({"sample_id": [f"s{i}" for i in range(kw.pop("manifest"))]})
        manifest.to_parquet(tmp_path / "manifest.parquet")
        kw["manifest_path"] = tmp_path / "manifest.parquet"
    runs = [write_run(tmp_path, v, "split1", top1=0.9) for v in ("fusion", "imu")]
    models = [write_model(tmp_path, "fusion", "split1", weights="kinetics400")]
    rows, csv = published_report(tmp_path, runs, models, published, **kw)
    assert [row.split(" | ")[4:7] for row in rows] == [
        ["96.05", "", f"not compared: {why}"],
        ["85.42", "", f"not compared: {why}"],
    ]
    assert csv["difference"].tolist() == ["", ""]


def test_published_figure_without_a_run_says_why(tmp_path):
    runs = [write_run(tmp_path, "imu", "split2", top1=0.8)]
    rows, csv = published_report(
        tmp_path, runs, [], skipped={"fusion": "skipped: dataset ds has no rgb"}
    )
    assert rows == [
        "| fusion | full | top1 |  | 96.05 |  | not compared: no run, variant fusion skipped: "
        "dataset ds has no rgb | Video and IMU fusion, Table 3 |",
        "| imu | full | top1 | split1 | 85.42 |  | not compared: no run of imu (full) on split "
        "split1 | ibid. |",
    ]
    assert csv["n_splits"].tolist() == [0, 0]


def test_no_published_block_no_section_and_a_bare_published_csv(tmp_path):
    out = report_of(tmp_path, [write_run(tmp_path, "imu", "s1")])
    assert "## Published figures" not in (out / "summary.md").read_text()
    assert (out / "published.csv").read_text() == ",".join(report.PUBLISHED_COLUMNS) + "\n"
