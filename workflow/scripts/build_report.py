"""Rule build_report: tables, figures and the quarantine summary of every run, and ours
beside the published figures."""

from pathlib import Path

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import report  # inside: harfuse progress sees it load, its log any error

    report.run(
        list(snakemake.input.metrics),
        list(snakemake.input.quarantine),
        snakemake.input.classes,
        list(snakemake.params.notes),
        out_dir=Path(snakemake.output.csv).parent,
        benchmark_paths=report.benchmark_files("logs/benchmarks", snakemake.wildcards.dataset),
        benchmark_root="logs/benchmarks",
        model_paths=list(snakemake.input.models),
        published=dict(snakemake.params.published),
        layout=snakemake.params.layout,
        manifest_path=snakemake.input.manifest,
        skipped=dict(snakemake.params.skipped),
        pose_paths=list(snakemake.input.pose),
    )
