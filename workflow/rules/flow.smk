# Stage flow: dense optical flow between consecutive frames of each frame shard.


rule compute_flow:
    input:
        frames=rules.extract_frames.output.shard,
    output:
        shard="results/{dataset}/flow-{flow_method}/shard-{shard}.h5",
        quarantine="results/{dataset}/flow-{flow_method}/shard-{shard}.quarantine.parquet",
    log:
        "logs/compute_flow/{dataset}/{flow_method}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/compute_flow/{dataset}/{flow_method}/shard-{shard}.tsv"
    priority: SHARD_PRIORITY
    conda:
        "../../envs/torch.yaml"
    # from what the jobs run on, decided as they decide it (plan.flow_resources)
    threads: FLOW_RESOURCES["threads"]
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=FLOW_RESOURCES["gpu"],
    params:
        code_version=code_version("harfuse.stages.flow"),
        flow=lookup(dpath="flow", within=config),
        on_error=config["on_error"],
        device=config["device"],
    script:
        "../scripts/compute_flow.py"
