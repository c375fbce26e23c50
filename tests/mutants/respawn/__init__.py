"""Mutants of the resource respawn lifecycle (§1b), one real bug each.

Each module subclasses :class:`reference_impl.respawn.RespawnManager` and
overrides one of its documented extension points (or wraps its public
surface) to carry its bug; the incident they come from: two restart paths
raced on ``removeSource``/``startBundleSource`` and left a bundle dead.
"""
