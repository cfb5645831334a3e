"""Rule estimate_pose: body keypoints of one frame shard's samples."""

from harfuse.runlog import log_to
from harfuse.stages import pose

with log_to(snakemake.log[0]):
    pose.run(
        snakemake.input.frames,
        snakemake.output.shard,
        dict(snakemake.params.skeleton),
        snakemake.params.on_error,
    )
