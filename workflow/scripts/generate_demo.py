"""Rule generate_demo: write the embedded demo dataset."""

from harfuse.runlog import log_to

with log_to(snakemake.log[0]):
    from harfuse.stages import demo  # inside: harfuse progress sees it load, its log any error

    demo.run(snakemake.output.root, dict(snakemake.params.demo))
