"""Rule build_manifest: scan the dataset root into the manifest."""

from harfuse.runlog import log_to
from harfuse.stages import manifest

with log_to(snakemake.log[0]):
    manifest.run(
        snakemake.output.manifest,
        snakemake.output.classes,
        snakemake.output.quarantine,
        dataset=dict(snakemake.params.dataset),
        samples_per_shard=snakemake.params.dataset["samples_per_shard"],
    )
