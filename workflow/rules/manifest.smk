# Stage manifest: scan the dataset root into results/{dataset}/manifest.parquet.
# A checkpoint: the number of shards is known only once it has run.


checkpoint build_manifest:
    input:
        root=config["dataset"]["root"],
    output:
        manifest="results/{dataset}/manifest.parquet",
        classes="results/{dataset}/classes.json",
        quarantine="results/{dataset}/quarantine.parquet",
    log:
        "logs/build_manifest/{dataset}.log",
    benchmark:
        "logs/benchmarks/build_manifest/{dataset}.tsv"
    conda:
        "../../envs/io.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        # the adapter is imported by name at run time: its code version counts too
        code_version=code_version("harfuse.stages.manifest")
        + code_version(adapter_name(config["dataset"]["layout"])),
        dataset=lookup(dpath="dataset", within=config),
    script:
        "../scripts/build_manifest.py"
