"""Mutants of the resource respawn lifecycle (CONTRACTS.md §1b), one real bug each.

Each module subclasses :class:`reference_impl.respawn.RespawnManager` and
overrides the one method that carries its bug; the seed they come from is
``seeds/001_773f61026c3695e1.txt`` (two restart paths raced on
``removeSource``/``startBundleSource`` and left a bundle dead).
"""
