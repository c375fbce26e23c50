"""Checkpoint-store mutants (§2): a correct store -- the reference, or the alternate
reading of ``tests/alternates/checkpoint_store`` -- with one real bug each, stated
by overriding one of its documented extension points."""
