"""Rule extract_sample_files: one shard's files of one modality into its shard."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import (
        sample_files,
    )  # inside: harfuse progress sees it load, its log any error

    sample_files.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        snakemake.wildcards.modality,
        dict(snakemake.params.section),
        snakemake.params.on_error,
    )
