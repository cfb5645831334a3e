"""Rule estimate_pose: body keypoints of one manifest shard's videos."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import pose  # inside: harfuse progress sees it load, its log any error

    pose.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.frames),
        dict(snakemake.params.skeleton),
        snakemake.params.on_error,
    )
