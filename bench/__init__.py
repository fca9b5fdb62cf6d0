"""Benchmarks (issue 5). Run everything with ``python -m bench``; it rewrites BENCHMARKS.md."""
