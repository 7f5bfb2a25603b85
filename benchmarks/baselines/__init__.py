"""Slow, reference-faithful baselines that benchmarks and equivalence tests compare against."""
