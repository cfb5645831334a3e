"""Rule extract_imu: resample and window one shard's IMU files."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import imu  # inside: harfuse progress sees it load, its log any error

    imu.run(
        snakemake.input.manifest,
        int(snakemake.wildcards.shard),
        snakemake.output.shard,
        dict(snakemake.params.imu),
        snakemake.params.on_error,
    )
