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
    priority: SHARD_PRIORITY
    conda:
        "../../envs/torch.yaml"
    # torch's threads and the threads decoding clips ahead of the encoder: a GPU needs
    # about one per 1100 frames/s it encodes (BENCHMARKS.md, "Feed rate"). On the CPU one
    # (the features are the same bits on 1 and 2, README "Reproducibility"): a job that
    # asks for 2 of 2 cores waits until no 1-core job is left to start, so the features,
    # which most variants wait for, came last (--set-threads extract_features=N for more)
    threads: 8 if GPU_PER_JOB else 1
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
