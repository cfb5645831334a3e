# harfuse: multimodal HAR preprocessing, features and fusion. Wiring only; see README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


if config["dataset"]["layout"] == "demo":

    include: "workflow/rules/demo.smk"


include: "workflow/rules/manifest.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/audio.smk"
include: "workflow/rules/sample_files.smk"
include: "workflow/rules/pose.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
