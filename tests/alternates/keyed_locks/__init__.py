"""Alternate-reading providers of the lock-rotation contract (§3)."""
