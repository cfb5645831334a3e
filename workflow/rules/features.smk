# Stage features: cache a frozen encoder's features of each frame shard, one cache per
# named set of features.sets (changing one set reruns only its cache).


rule extract_features:
    input:
        frames=rules.extract_frames.output.shard,
    output:
        shard="results/{dataset}/features/{features}/shard-{shard}.h5",
    log:
        "logs/extract_features/{dataset}/{features}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_features/{dataset}/{features}/shard-{shard}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU_PER_JOB,
    params:
        code_version=code_version("harfuse.stages.features"),
        features=lambda wildcards: feature_params(config, wildcards.features),
        device=config["device"],
    script:
        "../scripts/extract_features.py"
