"""Mutants of the session-memory commit lifecycle (§1a), one real bug each."""
