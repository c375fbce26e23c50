"""Keyed-lock mutants (§3): one bug each, from the lock-rotation incident.

Per-session locks lost their identity when a session id was rotated, and
pruning the old id let a late caller create a second lock.  A module either
overrides the reference registry's extension point (``KeyedLocks.new_lock``)
or its public methods, or is a small naive registry of its own.
"""
