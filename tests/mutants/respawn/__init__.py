"""Mutants of the resource respawn lifecycle (§1b), one real bug each.

Each module subclasses :class:`reference_impl.respawn.RespawnManager` and
overrides the one method that carries its bug; the incident they come from
(seed 001): two restart paths raced on ``removeSource``/``startBundleSource``
and left a bundle dead.
"""
