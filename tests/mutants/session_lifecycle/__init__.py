"""Mutants of the session-memory commit lifecycle (CONTRACTS.md §1a), one real bug each."""
