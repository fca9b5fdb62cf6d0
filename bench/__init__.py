"""Benchmarks. Run everything with ``python -m bench``; it rewrites BENCHMARKS.md."""
