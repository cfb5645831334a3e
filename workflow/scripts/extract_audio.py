"""Rule extract_audio: log-mel spectrograms of one shard's audio tracks."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import audio  # inside: harfuse progress sees it load, its log any error

    audio.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.audio),
        snakemake.params.on_error,
    )
