"""Alternate-reading providers of the session-memory commit lifecycle (§1a)."""
