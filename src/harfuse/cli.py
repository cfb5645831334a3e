"""The ``harfuse`` command: ``predict`` (name the activity in video files), ``inspect``
(summarise a shard or a manifest), ``progress`` (what running jobs do) and ``plan`` (the
bytes each stage will write). The workflow itself runs with snakemake."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: exit statuses
OK, SOME_FAILED, USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harfuse",
        description="Multimodal human activity recognition: predict with a trained model, "
        "inspect pipeline files. Run the pipeline itself with `snakemake --cores N`.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _predict_parser(sub)
    _inspect_parser(sub)
    _progress_parser(sub)
    _plan_parser(sub)
    return parser


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict",
        help="name the activity in video files",
        description="Print the top labels with probabilities for each video, using a model "
        "folder the workflow trained. Exit status: 0 = every video predicted, 1 = some "
        "video could not be used (its error on stderr; the others go on), 2 = bad "
        "arguments or model folder.",
    )
    p.add_argument(
        "videos",
        nargs="+",
        metavar="VIDEO",
        help="video files (.mp4, .avi, .MTS, .mkv, ... anything FFmpeg decodes), folders "
        "(their video and image files, recursively) or quoted glob patterns",
    )
    p.add_argument(
        "--model",
        required=True,
        metavar="DIR",
        help="a trained run: results/DATASET/runs/VARIANT/SPLIT/EXPERIMENT "
        "(holds model.pt and model.json)",
    )
    p.add_argument(
        "--top",
        type=int,
        default=5,
        metavar="K",
        help="labels printed per video or segment (default: 5)",
    )
    p.add_argument(
        "--window",
        type=float,
        metavar="S",
        help="also predict segments of S seconds (a timeline for long videos)",
    )
    p.add_argument(
        "--stride",
        type=float,
        metavar="S",
        help="seconds between segment starts (default: --window; at most --window)",
    )
    _predict_outputs(p)


def _predict_outputs(p: argparse.ArgumentParser) -> None:
    """``predict``'s arguments for what it writes besides the text answer."""
    p.add_argument(
        "--timeline",
        metavar="FILE",
        help="write the segment timeline to FILE, .csv or .json (needs --window); "
        "columns video, start_s, end_s, label, probability and the top-K",
    )
    p.add_argument(
        "--overlay",
        metavar="OUT",
        help="write the video with the predicted label drawn on it (.mp4, .mkv, "
        ".mov, .avi); with several videos OUT is a folder of VIDEO_STEM.mp4 files "
        "(VIDEO_STEM-2.mp4, ... where stems repeat; nothing is overwritten)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.add_argument(
        "--device",
        default="auto",
        choices=["auto", "cpu", "cuda"],
        help="where the model and flow run (default: auto = CUDA when present)",
    )


def _inspect_parser(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser(
        "inspect",
        help="summarise a shard, a harfuse table or a trained run folder",
        description="Print what a pipeline file holds: a shard's stage, parameters, sample "
        "count, array shapes and attributes, and its quarantined inputs; a manifest's "
        "samples, classes, splits and modalities; a predictions table's top-1 per class; a "
        "run folder's model, classes, preprocessing and metrics. Exit status 2 when the "
        "file cannot be read.",
    )
    i.add_argument(
        "file",
        metavar="FILE",
        help="a .h5 shard, a .parquet table (manifest, quarantine, predictions) or a run "
        "folder (or its model.json)",
    )
    i.add_argument(
        "--samples",
        type=int,
        default=3,
        metavar="N",
        help="samples of a shard whose arrays are listed (default: 3)",
    )
    i.add_argument("--json", action="store_true", help="print JSON instead of text")


def _progress_parser(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser(
        "progress",
        help="show what each running workflow job is doing",
        description="For each running job of a workflow (snakemake --cores N in another "
        "terminal): its stage, position (epoch k/N of a training phase, sample i/n of a "
        "shard), rate and ETA, read from the progress files the jobs keep beside their "
        "logs. Run it from the workflow's folder, or name its logs folder.",
    )
    g.add_argument("logs", nargs="?", default="logs", metavar="LOGS", help="default: logs")
    g.add_argument(
        "--cluster",
        action="store_true",
        help="jobs run on other machines: list every progress file (a local run leaves out "
        "the jobs whose process is gone)",
    )
    g.add_argument("--json", action="store_true", help="print JSON instead of text")


def _plan_parser(sub: argparse._SubParsersAction) -> None:
    from harfuse.disk_estimate import MEASURE_SOURCES, PROBE_SOURCES

    p = sub.add_parser(
        "plan",
        help="estimate the bytes each stage will write, before the run",
        description="Print, per stage of the workflow, the items it will write (frames, "
        "flow pairs, samples, runs), the bytes per item and the estimated total, against "
        "the free space where results/ lives (a WARNING line when it is short). Durations "
        "come from a seeded sample of the videos; frames, flow, audio and per-file "
        "modalities are measured by storing some of them as the stages do; features and "
        "model files are exact. Run it from the workflow's folder. Exit status 2 when the "
        "config or the dataset cannot be read.",
    )
    p.add_argument(
        "--configfile", default="config.yaml", metavar="FILE", help="default: config.yaml"
    )
    p.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override top-level config keys, as snakemake --config does",
    )
    p.add_argument(
        "--sample",
        type=int,
        default=PROBE_SOURCES,
        metavar="N",
        help=f"videos whose durations are probed (default: {PROBE_SOURCES})",
    )
    p.add_argument(
        "--measure",
        type=int,
        default=MEASURE_SOURCES,
        metavar="N",
        help=f"of them, videos stored to measure bytes per item (default: {MEASURE_SOURCES})",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default: 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")


def _error(message: str) -> None:
    print(f"harfuse: error: {message}", file=sys.stderr)


def expand_inputs(items: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files named by VIDEO arguments: a file as it is; a folder, its video and image
    files (recursively, sorted); a pattern the shell left alone (quoted), its matches.
    Returns the files, each once in the order first named, and ``(argument, reason)`` for
    each folder or pattern that gave none (a missing plain file stays in the list:
    prediction says "no such file")."""
    import glob

    from harfuse.datasets.common import VIDEO_EXTENSIONS
    from harfuse.media.frames import IMAGE_EXTENSIONS

    media = {*VIDEO_EXTENSIONS, *IMAGE_EXTENSIONS}
    files: list[Path] = []
    empty: list[tuple[str, str]] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in media)
            files += found
            if not found:
                empty.append((item, "no video or image file in this folder"))
        elif not path.exists() and any(c in item for c in "*?["):
            found = sorted(Path(p) for p in glob.glob(item, recursive=True) if Path(p).is_file())
            files += found
            if not found:
                empty.append((item, "no file matches this pattern"))
        else:
            files.append(path)
    return list(dict.fromkeys(files)), empty


def overlay_paths(videos: Sequence[Path], out: Path) -> dict[Path, Path]:
    """Where each video's overlay goes: ``out`` itself for one video; for several, the
    folder ``out`` with ``STEM.mp4``, then ``STEM-2.mp4``, ... where stems repeat or a
    file of that name is already there (nothing is overwritten)."""
    if len(videos) == 1:
        return {videos[0]: out}
    taken: set[str] = set()
    paths = {}
    for video in videos:
        name, n = f"{video.stem}.mp4", 1
        while name.lower() in taken or (out / name).exists():
            n += 1
            name = f"{video.stem}-{n}.mp4"
        taken.add(name.lower())
        paths[video] = out / name
    return paths


def _timeline_rows(predictions, k: int) -> list[dict]:
    rows = []
    for pred in predictions:
        for start, end, probs in pred.timeline:
            top = pred.top(k, probs)
            row = {
                "video": str(pred.path),
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "label": top[0][0],
                "probability": round(top[0][1], 4),
            }
            for rank, (label, p) in enumerate(top, 1):
                row[f"top{rank}"], row[f"p{rank}"] = label, round(p, 4)
            rows.append(row)
    return rows


def _write_timeline(path: Path, rows: list[dict]) -> None:
    from harfuse.store.atomic import write_text

    if path.suffix.lower() == ".json":
        write_text(path, json.dumps(rows, indent=1) + "\n")
        return
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["video"])
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buf.getvalue())


def _argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with ``predict``'s arguments, before any model or video is read."""
    from harfuse.predict import window_problem

    if args.stride is not None and args.window is None:
        return "--stride needs --window"
    if args.timeline and args.window is None:
        return "--timeline needs --window"
    if args.timeline and Path(args.timeline).suffix.lower() not in (".csv", ".json"):
        return f"{args.timeline}: --timeline must end in .csv or .json"
    if args.top < 1:
        return "--top must be >= 1"
    return window_problem(args.window, args.stride) if args.window is not None else None


def _print_prediction(video: Path, pred: Any, args: argparse.Namespace) -> None:
    """A video's answer as text: its top labels, its pose coverage, its timeline."""
    print(f"{video} ({pred.duration_s:.1f} s)")
    for rank, (label, p) in enumerate(pred.top(args.top), 1):
        print(f"  {rank}. {label}  {p:.3f}")
    if pred.pose_coverage is not None:
        low = ": LOW CONFIDENCE" if pred.low_confidence else ""
        print(f"  (a person in {pred.pose_coverage:.0%} of the frames{low})")
    if pred.timeline and not args.timeline:
        for start, end, probs in pred.timeline:
            label, p = pred.top(1, probs)[0]
            print(f"  [{start:7.2f} s - {end:7.2f} s] {label}  {p:.3f}")


def _json_document(
    args: argparse.Namespace, predictions: list, rows: list[dict], errors: list
) -> dict[str, Any]:
    """``predict --json``'s document."""
    videos = [
        {
            "video": str(p.path),
            "duration_s": p.duration_s,
            "top": [{"label": lab, "probability": pr} for lab, pr in p.top(args.top)],
            "pose_coverage": p.pose_coverage,
            "low_confidence": p.low_confidence,
            "windows_without_person": len(p.left_out),
            "timeline": [r for r in rows if r["video"] == str(p.path)],
        }
        for p in predictions
    ]
    failures = [{"video": item, "error": reason} for item, reason in errors]
    return {"model": str(args.model), "videos": videos, "errors": failures}


def predict_command(args: argparse.Namespace) -> int:
    from harfuse.media.decode import DecodeError
    from harfuse.predict import PredictError, TrainedModel, predict_video, write_overlay

    problem = _argument_problem(args)
    if problem:
        _error(problem)
        return USAGE
    try:
        trained = TrainedModel.load(args.model, args.device)
    except PredictError as exc:
        _error(str(exc))
        return USAGE
    videos, errors = expand_inputs(args.videos)
    for item, reason in errors:
        _error(f"{item}: {reason}")
    overlays = overlay_paths(videos, Path(args.overlay)) if args.overlay else {}
    if args.overlay and len(videos) > 1:
        Path(args.overlay).mkdir(parents=True, exist_ok=True)
    predictions = []
    for video in videos:
        try:
            pred = predict_video(trained, video, args.window, args.stride)
            if args.overlay:
                pose = "skeleton" in trained.modalities  # keypoints estimated on the video
                skeleton = trained.preprocessing["skeleton"] if pose else None
                write_overlay(video, pred, overlays[video], skeleton)
        except (PredictError, DecodeError) as exc:
            _error(str(exc))
            errors.append((str(video), str(exc)))
            continue
        predictions.append(pred)
        if not args.json:
            _print_prediction(video, pred, args)
    rows = _timeline_rows(predictions, args.top)
    if args.timeline:
        _write_timeline(Path(args.timeline), rows)
    if args.json:
        print(json.dumps(_json_document(args, predictions, rows, errors), indent=1))
    return SOME_FAILED if errors else OK


def inspect_command(args: argparse.Namespace) -> int:
    from harfuse.inspection import InspectError, inspect_file, render

    try:
        summary = inspect_file(args.file, args.samples)
    except InspectError as exc:
        _error(str(exc))
        return USAGE
    print(json.dumps(summary, indent=1, default=str) if args.json else render(summary), end="")
    if args.json:
        print()
    return OK


def progress_command(args: argparse.Namespace) -> int:
    from harfuse.progress import render, running_jobs

    if not Path(args.logs).is_dir() and not Path("Snakefile").is_file():
        _error(f"{args.logs}: no such folder (run from the workflow's folder, or name its logs)")
        return USAGE
    jobs = running_jobs(args.logs, local=not args.cluster)  # none before the first job
    print(json.dumps(jobs, indent=1) if args.json else render(jobs), end="\n" if args.json else "")
    return OK


def load_config(configfile: str | Path, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """The config the workflow would run: ``configfile`` with ``overrides`` (``KEY=VALUE``,
    parsed and merged as ``snakemake --config`` does), validated with its defaults filled,
    and as a smoke run takes it (``smoke: true``). :class:`ConfigError` (or ``OSError``,
    ``ValueError``) says what is wrong."""
    import yaml
    from snakemake.cli import parse_config
    from snakemake.utils import update_config

    from harfuse.config_schema import validate
    from harfuse.plan import reference_problems
    from harfuse.preflight import raise_problems
    from harfuse.smoke import smoke_config

    config = yaml.safe_load(Path(configfile).read_text(encoding="utf-8")) or {}
    update_config(config, parse_config(list(overrides)))
    validate(config)
    raise_problems(reference_problems(config))
    return smoke_config(config) if config["smoke"] else config


def plan_command(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from harfuse.config_schema import ConfigError
    from harfuse.datasets import LayoutError
    from harfuse.disk_estimate import estimate_disk, render

    try:
        config = load_config(args.configfile, args.config)
        estimate = estimate_disk(config, None, None, args.sample, args.measure, args.seed)
    except (ConfigError, LayoutError, OSError, ValueError) as exc:
        _error(f"{args.configfile}: {exc}")
        return USAGE
    if args.json:
        print(
            json.dumps(
                {**asdict(estimate), "total": estimate.total, "needed": estimate.needed}, indent=1
            )
        )
    else:
        print(render(estimate), end="")
    return OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    command = {
        "predict": predict_command,
        "inspect": inspect_command,
        "progress": progress_command,
        "plan": plan_command,
    }[args.command]
    return command(args)


if __name__ == "__main__":
    sys.exit(main())
