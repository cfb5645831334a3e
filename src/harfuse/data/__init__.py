"""The model-input pipeline: a torch Dataset over the shards (:mod:`.dataset`), clip
sampling and loaders for fine-tuned backbones (:mod:`.clips`) and the threaded frame feed
that keeps a GPU busy (:mod:`.frame_feed`). It reads :mod:`harfuse.store` (the on-disk
contract), which never imports it."""
