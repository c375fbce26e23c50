"""Checkpoint-store alternates (§2): correct stores that take the other branch of its open choices."""
