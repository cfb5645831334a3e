"""Rule extract_features: frozen-encoder features of one frame shard."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import features  # inside: harfuse progress sees it load, its log any error

    features.run(
        snakemake.input.frames,
        snakemake.output.shard,
        dict(snakemake.params.features),
        snakemake.params.device,
        threads=snakemake.threads,
        on_error=snakemake.params.on_error,
    )
