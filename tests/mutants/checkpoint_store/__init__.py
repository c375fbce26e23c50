"""Checkpoint-store mutants (§2): the reference store with one real bug each."""
