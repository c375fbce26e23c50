"""Alternate-reading providers of the resource respawn lifecycle (§1b)."""
