"""Bug: ``lock_for`` makes a new lock on every call (seed 003).

The registry stores the lock it just made, replacing the previous one, so
two callers of ``lock_for(k)`` never share a lock: identity (LK-01) and
mutual exclusion (LK-02) are gone, and the state machine sees a second
caller get a different object (LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-01", "LK-02", "LK-08")


class NewLockPerCall(KeyedLocks):
    def lock_for(self, key: Hashable) -> KeyedLock:
        with self._mutex:
            lock = KeyedLock(self._held)  # BUG: never looks the key up
            self._table[key] = lock
            return lock


provider = Provider("mutant-new-lock-per-call", keyed_locks=lambda ctx: NewLockPerCall())
