# Stage audio: log-mel spectrograms of each video's audio track into float16 shards.


rule extract_audio:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        shard="results/{dataset}/audio/shard-{shard}.h5",
        quarantine="results/{dataset}/audio/shard-{shard}.quarantine.parquet",
    log:
        "logs/extract_audio/{dataset}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_audio/{dataset}/shard-{shard}.tsv"
    priority: SHARD_PRIORITY
    conda:
        "../../envs/audio.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code_version=code_version("harfuse.stages.audio"),
        audio=lookup(dpath="audio", within=config),
        on_error=config["on_error"],
    script:
        "../scripts/extract_audio.py"
