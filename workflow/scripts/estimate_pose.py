"""Rule estimate_pose: body keypoints of one manifest shard's videos."""

from harfuse.runlog import log_to
from harfuse.stages import pose

with log_to(snakemake.log[0]):
    pose.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.frames),
        dict(snakemake.params.skeleton),
        snakemake.params.on_error,
    )
