"""Rule build_report: the summary table of every variant."""

from harfuse.runlog import log_to
from harfuse.stages import report

with log_to(snakemake.log[0]):
    report.run(
        list(snakemake.input.metrics),
        list(snakemake.input.quarantine),
        list(snakemake.params.notes),
        snakemake.output.csv,
        snakemake.output.md,
        snakemake.output.quarantine,
    )
