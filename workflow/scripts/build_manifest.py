"""Rule build_manifest: scan the dataset root into the manifest."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import manifest  # inside: harfuse progress sees it load, its log any error

    manifest.run(
        snakemake.output.manifest,
        snakemake.output.classes,
        snakemake.output.quarantine,
        dataset=dict(snakemake.params.dataset),
        samples_per_shard=snakemake.params.dataset["samples_per_shard"],
    )
