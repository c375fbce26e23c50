"""Documented examples: small providers the README shows, run by ``tests/test_examples.py``."""
