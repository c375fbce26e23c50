"""Mutants of the stream-resume contract (§4)."""
