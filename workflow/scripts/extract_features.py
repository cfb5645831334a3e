"""Rule extract_features: frozen-encoder features of one frame shard."""

from harfuse.runlog import log_to
from harfuse.stages import features

with log_to(snakemake.log[0]):
    features.run(
        snakemake.input.frames,
        snakemake.output.shard,
        dict(snakemake.params.features),
        snakemake.params.device,
        threads=snakemake.threads,
        on_error=snakemake.params.on_error,
    )
