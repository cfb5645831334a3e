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
    conda:
        "../../envs/torch.yaml"
    # OpenCV's threads on the CPU; on a GPU the threads decoding frames ahead of the
    # kernel (one feeds ~1000-2000 frames/s: BENCHMARKS.md, "Feed rate")
    threads: 4 if GPU_PER_JOB and config["flow"]["backend"] != "cv2" else 1
    resources:
        mem_mb=2000,
        runtime=120,
        gpu=GPU_PER_JOB if config["flow"]["backend"] != "cv2" else 0,
    params:
        code_version=code_version("harfuse.stages.flow"),
        flow=lookup(dpath="flow", within=config),
        on_error=config["on_error"],
        device=config["device"],
    script:
        "../scripts/compute_flow.py"
