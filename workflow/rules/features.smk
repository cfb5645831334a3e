# Stage features: cache a frozen encoder's features of each frame shard, one cache per
# named set of features.sets (changing one set reruns only its cache).


rule extract_features:
    input:
        frames=rules.extract_frames.output.shard,
    output:
        shard="results/{dataset}/features/{features}/shard-{shard}.h5",
        quarantine="results/{dataset}/features/{features}/shard-{shard}.quarantine.parquet",
    log:
        "logs/extract_features/{dataset}/{features}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_features/{dataset}/{features}/shard-{shard}.tsv"
    conda:
        "../../envs/torch.yaml"
    # torch's threads and the threads decoding clips ahead of the encoder: a GPU needs
    # about one per 1100 frames/s it encodes (BENCHMARKS.md, "Feed rate")
    threads: 8 if GPU_PER_JOB else 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU_PER_JOB,
    params:
        code_version=code_version("harfuse.stages.features"),
        features=lambda wildcards: feature_params(config, wildcards.features),
        device=config["device"],
        on_error=config["on_error"],
    script:
        "../scripts/extract_features.py"
