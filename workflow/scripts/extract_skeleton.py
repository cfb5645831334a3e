"""Rule extract_skeleton: one shard's dataset skeleton files into a skeleton shard."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import skeleton  # inside: harfuse progress sees it load, its log any error

    skeleton.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.skeleton),
        snakemake.params.on_error,
    )
