# Stage train: train and evaluate one variant on one split protocol of the manifest, in one
# experiment (full, training-data ratio, hidden classes).


rule train_variant:
    input:
        unpack(variant_inputs),
        manifest=rules.build_manifest.output.manifest,
        classes=rules.build_manifest.output.classes,
    output:
        metrics="results/{dataset}/runs/{variant}/{split}/{experiment}/metrics.json",
        model="results/{dataset}/runs/{variant}/{split}/{experiment}/model.pt",
        description="results/{dataset}/runs/{variant}/{split}/{experiment}/model.json",
        predictions="results/{dataset}/runs/{variant}/{split}/{experiment}/predictions.parquet",
        quarantine="results/{dataset}/runs/{variant}/{split}/{experiment}/quarantine.parquet",
    log:
        "logs/train_variant/{dataset}/{variant}/{split}/{experiment}.log",
    benchmark:
        "logs/benchmarks/train_variant/{dataset}/{variant}/{split}/{experiment}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: lambda wildcards: job_cores(config, wildcards.variant)
    resources:
        mem_mb=4000,
        runtime=120,
        gpu=GPU_PER_JOB,
    params:
        code_version=code_version("harfuse.stages.train"),
        spec=lambda wildcards: VARIANTS[wildcards.variant],
        experiment=lambda wildcards: experiments(config, wildcards.variant)[
            wildcards.experiment
        ],
        train=lookup(dpath="train/params", within=config),
        inputs=model_inputs(config),
        device=config["device"],
    script:
        "../scripts/train_variant.py"
