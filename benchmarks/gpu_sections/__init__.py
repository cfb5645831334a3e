"""The GPU check's sections, one module each, and their shared runner (benchmarks/gpu_check.py)."""
