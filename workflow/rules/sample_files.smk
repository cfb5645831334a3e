# Stage sample_files: the modalities made from each sample's own file (imu: IMU windows at
# a fixed rate; skeleton: the dataset's skeleton files, with skeleton.source dataset; depth:
# depth maps), one rule for all of them; each modality's module in harfuse.modalities says
# what its shard stores.


rule extract_sample_files:
    input:
        manifest=rules.build_manifest.output.manifest,
    output:
        shard="results/{dataset}/{modality}/shard-{shard}.h5",
        quarantine="results/{dataset}/{modality}/shard-{shard}.quarantine.parquet",
    log:
        "logs/extract_{modality}/{dataset}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/extract_{modality}/{dataset}/shard-{shard}.tsv"
    wildcard_constraints:
        modality="|".join(file_modalities(config)),
    priority: SHARD_PRIORITY
    conda:
        "../../envs/io.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    params:
        code_version=lambda w: code_version("harfuse.stages.sample_files")
        + code_version(module_of(w.modality)),
        section=lambda w: MODALITIES[w.modality].stage_params(config),
        on_error=config["on_error"],
    script:
        "../scripts/extract_sample_files.py"
