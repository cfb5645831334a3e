# Stage frames: decode videos (PyAV) at a target fps into uint8 RGB frame shards.


rule extract_frames:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        shard="results/{dataset}/frames/shard-{shard}.h5",
        quarantine="results/{dataset}/frames/shard-{shard}.quarantine.parquet",
    log:
        "logs/extract_frames/{dataset}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_frames/{dataset}/shard-{shard}.tsv"
    priority: SHARD_PRIORITY
    conda:
        "../../envs/video.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code_version=code_version("harfuse.stages.frames"),
        frames=lookup(dpath="frames", within=config),
        on_error=config["on_error"],
    script:
        "../scripts/extract_frames.py"
