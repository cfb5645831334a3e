"""Rule extract_frames: decode one shard's videos into RGB frame arrays."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import frames  # inside: harfuse progress sees it load, its log any error

    frames.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.frames),
        snakemake.params.on_error,
    )
