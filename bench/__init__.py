"""Benchmarks, run by hand; each prints its figures (see BENCHMARKS.md)."""
