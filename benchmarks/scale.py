"""What planning a Kinetics-size dataset costs: the manifest and the dry run of the DAG.

    .venv/bin/python benchmarks/scale.py [--sizes 13000,100000,300000] [--config PATH]
                                         [--work DIR] [--keep]

For each size ``N`` it lays out a full-size Kinetics-400 listing as the CVDF distribution
does (``annotations/{train,val,test}.csv`` and ``{train,val,test}/{id}_{start}_{end}.mp4``,
see :mod:`harfuse.datasets.kinetics`): ``N`` videos in K400's proportions (train 89.6 %,
val 7.4 %, test 3.0 % of 268,142), each a hard link to one of a few tiny clips (ext4
allows at most 65,000 links to a file), 400 classes, and 2.5 % of the CSV rows without a
video (K400's train CSV has 246,534 rows for 240,258 videos). Then, in a working folder
of its own, with the config ``--config`` (default ``configs/kinetics400.yaml``, its root
pointed at the listing):

1. ``snakemake --cores 1 results/{name}/manifest.parquet``: the scan and the manifest;
2. ``snakemake -n --cores 2 --quiet rules``: the dry run of the whole DAG (frames,
   features, audio, every variant, the report), whose parse-time checks run as in a real
   run;
3. the same dry run with ``--profile profiles/slurm-grouped``: the SLURM jobs it would
   submit (one per group job; needs snakemake-executor-plugin-slurm, not SLURM).

Prints, per size: videos, DAG jobs, seconds and peak RSS MB of each (the largest process
of the command's tree, from ``wait4``), and the cost per 100k videos, so that growth can
be read as linear or not. Targets at 300k on 2 cores: manifest <= 30 s, dry run <= 30 s,
peak <= 1.5 GB.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from harfuse.datasets.fixture_media import tiny_video
from harfuse.environment import describe

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
#: K400 (CVDF): videos per split folder, of 268,142 in all (train 240,258)
SPLITS = {"train": 0.896, "val": 0.074, "test": 0.030}
MISSING = 0.025  # CSV rows without a video
LINKS_PER_FILE = 60_000
CLASSES = 400
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def youtube_id(i: int) -> str:
    """An 11-character id from ``i``, in YouTube's alphabet."""
    chars = []
    for _ in range(11):
        i, r = divmod(i, 64)
        chars.append(ID_CHARS[r])
    return "".join(reversed(chars))


def write_listing(root: Path, videos: int) -> dict[str, int]:
    """A K400-like listing of ``videos`` videos under ``root``; counts of videos, rows and
    sources."""
    sources = [
        tiny_video(root / "sources" / f"clip{k}.mp4", seed=k)
        for k in range(-(-videos // LINKS_PER_FILE))
    ]
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    made, rows, i = 0, 0, 0
    for split, share in SPLITS.items():
        folder = root / split
        folder.mkdir()
        count = round(videos * share) if split != "test" else videos - made
        listed = int(count / (1 - MISSING))
        with open(root / "annotations" / f"{split}.csv", "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for j in range(listed):
                start = (i * 7) % 290
                yid = youtube_id(i)
                label = f"action {i % CLASSES:03d}" if split != "test" else ""
                out.writerow([label, yid, start, start + 10, split])
                if j < count:
                    name = f"{yid}_{start:06d}_{start + 10:06d}.mp4"
                    os.link(sources[made // LINKS_PER_FILE], folder / name)
                    made += 1
                i += 1
            rows += listed
    return {"videos": made, "rows": rows, "sources": len(sources)}


def measured(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MB (the largest process of the tree) and the output of
    ``cmd``; raises with the output when it fails."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out[-3000:]}")
    return wall, usage.ru_maxrss / 1024, out


def submitted_jobs(dry_run: str) -> int:
    """Jobs a dry run with profiles/slurm-grouped would submit: one per group job, one per
    job outside a group (the local ``all`` left out)."""
    groups = re.findall(r"Group job \S+ \(jobs in lexicogr\. order\):$", dry_run, re.M)
    ungrouped = re.findall(r"^(?:rule|checkpoint) (\w+):$", dry_run, re.M)
    return len(groups) + len([r for r in ungrouped if r != "all"])


def plan_once(config: dict, root: Path, work: Path) -> dict[str, float]:
    """Manifest and dry run of ``config`` on the listing at ``root``, in ``work``."""
    cfg = {**config, "dataset": {**config["dataset"], "root": str(root)}}
    # no pretrained weights here (a dry run loads none, but the check before work asks)
    sets = cfg["features"]["sets"]
    cfg["features"] = {
        **cfg["features"],
        "sets": {k: {**v, "weights": "none"} for k, v in sets.items()},
    }
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    base = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(work)]
    base += ["--configfile", str(work / "config.yaml"), "--replace-workflow-config"]
    manifest = f"results/{cfg['dataset']['name']}/manifest.parquet"
    m_s, m_mb, _ = measured([*base, manifest, "--cores", "1"], work)
    d_s, d_mb, out = measured([*base, "-n", "--cores", "2", "--quiet", "rules"], work)
    jobs = re.search(r"^total\s+(\d+)$", out, re.M)
    grouped = [*base, "-n", "--cores", "2", "--profile", str(REPO / "profiles" / "slurm-grouped")]
    _, _, g_out = measured(grouped, work)
    return {
        "slurm_jobs": submitted_jobs(g_out),
        "manifest_s": m_s,
        "manifest_mb": m_mb,
        "dry_s": d_s,
        "dry_mb": d_mb,
        "jobs": int(jobs[1]) if jobs else -1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="13000,100000,300000")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "kinetics400.yaml")
    parser.add_argument("--work", type=Path, default=None, help="folder (default: a temp one)")
    parser.add_argument("--keep", action="store_true", help="keep the listings and results")
    args = parser.parse_args()
    config = yaml.safe_load(args.config.read_text())
    print(describe())
    print(f"config {args.config.name}: samples_per_shard {config['dataset']['samples_per_shard']}")
    work = args.work or Path(tempfile.mkdtemp(prefix="harfuse-scale-"))
    header = (
        "| videos | CSV rows | DAG jobs | manifest s | manifest MB | dry run s | dry run MB "
        "| SLURM jobs, grouped |"
    )
    rows = [header, "|" + "---|" * 8]
    per = []
    for size in (int(s) for s in args.sizes.split(",")):
        root = work / f"k400-{size}"
        t0 = time.perf_counter()
        listing = write_listing(root, size)
        print(f"{size} videos: listing written in {time.perf_counter() - t0:.0f} s", flush=True)
        r = plan_once(config, root, work / f"run-{size}")
        rows.append(
            f"| {listing['videos']:,} | {listing['rows']:,} | {r['jobs']:,} | "
            f"{r['manifest_s']:.1f} | {r['manifest_mb']:.0f} | {r['dry_s']:.1f} | "
            f"{r['dry_mb']:.0f} | {r['slurm_jobs']:,} |"
        )
        per.append((listing["videos"], r))
        print(rows[-1], flush=True)
        if not args.keep:
            shutil.rmtree(root)
            shutil.rmtree(work / f"run-{size}")
    print("\n".join(rows))
    (small, a), (big, b) = per[0], per[-1]
    if big > small:
        scale = (big - small) / 1e5
        print(
            f"per 100k more videos: manifest +{(b['manifest_s'] - a['manifest_s']) / scale:.1f} s "
            f"+{(b['manifest_mb'] - a['manifest_mb']) / scale:.0f} MB, dry run "
            f"+{(b['dry_s'] - a['dry_s']) / scale:.1f} s "
            f"+{(b['dry_mb'] - a['dry_mb']) / scale:.0f} MB"
        )
    if not args.keep and args.work is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
