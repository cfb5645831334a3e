# Stage features: cache a frozen image encoder's per-frame features of each frame shard.


rule extract_features:
    input:
        frames=rules.extract_frames.output.shard,
    output:
        shard="results/{dataset}/features/{encoder}/shard-{shard}.h5",
    log:
        "logs/extract_features/{dataset}/{encoder}/shard-{shard}.log",
    benchmark:
        "benchmarks/extract_features/{dataset}/{encoder}/shard-{shard}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU_PER_JOB,
    params:
        code_version=code_version("harfuse.stages.features"),
        features=lookup(dpath="features", within=config),
        device=config["device"],
    script:
        "../scripts/extract_features.py"
