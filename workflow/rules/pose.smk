# Stage pose: body keypoints estimated on the videos, decoded at the estimator's own
# resolution on the frames stage's timeline (skeleton.source: pose).


rule estimate_pose:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        shard="results/{dataset}/pose/shard-{shard}.h5",
        quarantine="results/{dataset}/pose/shard-{shard}.quarantine.parquet",
    log:
        "logs/estimate_pose/{dataset}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/estimate_pose/{dataset}/shard-{shard}.tsv"
    priority: SHARD_PRIORITY
    conda:
        "../../envs/video.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        code_version=code_version("harfuse.stages.pose"),
        frames=lookup(dpath="frames", within=config),
        # what this source reads of the section (max_bodies does not rerun it)
        skeleton={"source": "pose", "pose": config["skeleton"]["pose"]},
        on_error=config["on_error"],
    script:
        "../scripts/estimate_pose.py"
