# Stage report: every run in one table, mean ± std over splits, figures, quarantine, the
# time and memory of each stage's jobs (from their benchmark: files), and ours beside the
# config's published figures.
# The files flagged with report() also go into `snakemake --report report.html`;
# ratio_sweep.png only with a training-data ratio sweep (experiments.ratios).


rule build_report:
    input:
        metrics=lambda wildcards: run_files(wildcards, "metrics"),
        models=lambda wildcards: run_files(wildcards, "description"),
        quarantine=quarantine_tables,
        pose=pose_shards,
        classes=rules.build_manifest.output.classes,
        manifest=rules.build_manifest.output.manifest,
    output:
        **(
            {
                "ratio_sweep": report(
                    "results/{dataset}/report/ratio_sweep.png",
                    caption="../report/ratio_sweep.rst",
                    category="Figures",
                )
            }
            if config["experiments"]["ratios"]
            else {}
        ),
        csv=report(
            "results/{dataset}/report/summary.csv",
            caption="../report/summary.rst",
            category="Results",
        ),
        aggregate=report(
            "results/{dataset}/report/aggregate.csv",
            caption="../report/aggregate.rst",
            category="Results",
        ),
        md="results/{dataset}/report/summary.md",
        published=report(
            "results/{dataset}/report/published.csv",
            caption="../report/published.rst",
            category="Results",
        ),
        benchmarks=report(
            "results/{dataset}/report/benchmarks.csv",
            caption="../report/benchmarks.rst",
            category="Resources",
        ),
        quarantine=report(
            "results/{dataset}/report/quarantine.csv",
            caption="../report/quarantine.rst",
            category="Inputs",
        ),
        confusion=report(
            "results/{dataset}/report/confusion.png",
            caption="../report/confusion.rst",
            category="Figures",
        ),
        variants=report(
            "results/{dataset}/report/variants.png",
            caption="../report/variants.rst",
            category="Figures",
        ),
        learning_curves=report(
            "results/{dataset}/report/learning_curves.png",
            caption="../report/learning_curves.rst",
            category="Figures",
        ),
    log:
        "logs/build_report/{dataset}.log",
    benchmark:
        "logs/benchmarks/build_report/{dataset}.tsv"
    conda:
        "../../envs/io.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code_version=code_version("harfuse.stages.report"),
        notes=report_notes,
        published=lookup(dpath="published", within=config),
        layout=lookup(dpath="dataset/layout", within=config),
        skipped=lambda wildcards: {
            v: why for v, why in runnable_variants(wildcards).items() if why
        },
    script:
        "../scripts/build_report.py"
