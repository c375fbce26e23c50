"""Keyed-lock mutants (CONTRACTS.md §3): one bug each, from the lock-rotation seed.

Seed ``003_55ff0f944c592606.txt`` (the lock-rotation tests near its end):
per-session locks lost their identity when a session id was rotated, and
pruning the old id let a late caller create a second lock.  Every module
subclasses :mod:`reference_impl.keyed_locks` and changes one thing.
"""
