"""Benchmarks of corpuskit: corpus generators and timed runs (not part of the installed package)."""
