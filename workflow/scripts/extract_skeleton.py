"""Rule extract_skeleton: one shard's dataset skeleton files into a skeleton shard."""

from harfuse.runlog import log_to
from harfuse.stages import skeleton

with log_to(snakemake.log[0]):
    skeleton.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.skeleton),
        snakemake.params.on_error,
    )
