"""Rule extract_imu: resample and window one shard's IMU files."""

from harfuse.runlog import log_to
from harfuse.stages import imu

with log_to(snakemake.log[0]):
    imu.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.imu),
        snakemake.params.on_error,
    )
