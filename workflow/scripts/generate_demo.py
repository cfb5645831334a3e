"""Rule generate_demo: write the embedded demo dataset."""

from harfuse.runlog import log_to
from harfuse.stages import demo

with log_to(snakemake.log[0]):
    demo.run(snakemake.output.root, dict(snakemake.params.demo))
