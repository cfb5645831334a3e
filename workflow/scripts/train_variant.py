"""Rule train_variant: train and evaluate one variant on one split."""

from pathlib import Path

from harfuse.runlog import log_to

spec = dict(snakemake.params.spec)
with log_to(snakemake.log[0]):
    from harfuse.stages import train  # inside: harfuse progress sees it load, its log any error

    train.run(
        snakemake.input.manifest,
        snakemake.input.classes,
        shards={m: list(snakemake.input[m]) for m in spec["modalities"]},
        variant=snakemake.wildcards.variant,
        spec=spec,
        split=snakemake.wildcards.split,
        experiment=dict(snakemake.params.experiment),
        train=dict(snakemake.params.train),
        inputs=dict(snakemake.params.inputs),
        device=snakemake.params.device,
        out_dir=Path(snakemake.output.metrics).parent,
        init=snakemake.input.get("init"),
    )
