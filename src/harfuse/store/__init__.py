"""On-disk contracts: atomic writes, the manifest, HDF5 shards and the quarantine table."""
