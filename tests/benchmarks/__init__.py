"""Benchmarks, run by ``make bench`` (``python -m tests.benchmarks``). Never run as tests."""
