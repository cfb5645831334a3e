"""Model input modalities, one module per modality: everything that names one lives there.

Each module (``rgb``, ``flow``, ``audio``, ``imu``, ``skeleton``, ``depth``) defines a
:class:`~harfuse.modalities.base.Modality` subclass and its instance ``MODALITY``: the
config section its shards record, the manifest columns it is made from, the rule that
writes its shards, ``stored`` (raw input -> what the shard stores), ``model_input``
(stored arrays -> one sample's model input), its input shape for the parse-time model
check, its default encoder, its checks before work and its line in the report.
:mod:`harfuse.modalities.registry` collects them; the train stage, ``harfuse predict``,
the checks before work, the fusion models and the workflow loop over it.

This file imports nothing, so that a stage's code version (which hashes its parent
packages) covers its own modality's module only.
"""
