# Stage imu: resample IMU streams to the target rate and fit them to a fixed window.


rule extract_imu:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        shard="results/{dataset}/imu/shard-{shard}.h5",
        quarantine="results/{dataset}/imu/shard-{shard}.quarantine.parquet",
    log:
        "logs/extract_imu/{dataset}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_imu/{dataset}/shard-{shard}.tsv"
    conda:
        "../../envs/io.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        code_version=code_version("harfuse.stages.imu"),
        imu=lookup(dpath="imu", within=config),
        on_error=config["on_error"],
    script:
        "../scripts/extract_imu.py"
