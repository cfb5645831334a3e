"""Media decoding and per-modality preprocessing (pure functions over arrays)."""
