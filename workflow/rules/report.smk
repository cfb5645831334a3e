# Stage report: one table of every variant and split, and the quarantine summary.


rule build_report:
    input:
        metrics=lambda wildcards: run_files(wildcards, "metrics"),
        quarantine=quarantine_tables,
    output:
        csv="results/{dataset}/report/summary.csv",
        md="results/{dataset}/report/summary.md",
        quarantine="results/{dataset}/report/quarantine.csv",
    log:
        "logs/build_report/{dataset}.log",
    benchmark:
        "benchmarks/build_report/{dataset}.tsv"
    conda:
        "../../envs/io.yaml"
    params:
        code_version=code_version("harfuse.stages.report"),
        notes=report_notes,
    script:
        "../scripts/build_report.py"
