"""Keyed-lock mutants (§3): one bug each, from the lock-rotation incident (seed 003).

Per-session locks lost their identity when a session id was rotated, and
pruning the old id let a late caller create a second lock.  Every module
subclasses :mod:`reference_impl.keyed_locks` and changes one thing.
"""
