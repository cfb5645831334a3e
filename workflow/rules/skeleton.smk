# Stage skeleton: the dataset's own skeleton files (UTD-MHAD .mat, NTU RGB+D .skeleton)
# into skeleton shards (skeleton.source: dataset).


rule extract_skeleton:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        shard="results/{dataset}/skeleton/shard-{shard}.h5",
        quarantine="results/{dataset}/skeleton/shard-{shard}.quarantine.parquet",
    log:
        "logs/extract_skeleton/{dataset}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_skeleton/{dataset}/shard-{shard}.tsv"
    conda:
        "../../envs/io.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        code_version=code_version("harfuse.stages.skeleton"),
        # what this source reads of the section (the pose keys do not rerun it)
        skeleton={"source": "dataset", "max_bodies": config["skeleton"]["max_bodies"]},
        on_error=config["on_error"],
    script:
        "../scripts/extract_skeleton.py"
