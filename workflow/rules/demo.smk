# Stage demo: generate the embedded demo dataset (included only for dataset.layout: demo).


rule generate_demo:
    output:
        root=directory(config["dataset"]["root"]),
    log:
        "logs/generate_demo/demo.log",
    benchmark:
        "logs/benchmarks/generate_demo/demo.tsv"
    conda:
        "../../envs/video.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code_version=code_version("harfuse.stages.demo"),
        demo=lookup(dpath="demo", within=config),
    script:
        "../scripts/generate_demo.py"
