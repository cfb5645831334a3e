"""Rule compute_flow: optical flow of one frame shard."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import flow  # inside: harfuse progress sees it load, its log any error

    flow.run(
        snakemake.input.frames,
        snakemake.output.shard,
        dict(snakemake.params.flow),
        snakemake.params.on_error,
        threads=snakemake.threads,
        device=snakemake.params.device,
    )
