"""Bug: ``lock_for`` makes a new lock on every call (the lock-rotation incident, §3).

A naive registry, self-contained: it stores the lock it just made,
replacing the previous one, so two callers of ``lock_for(k)`` never share
a lock: identity (LK-01) and mutual exclusion (LK-02) are gone, a rotated
key no longer resolves to the held lock, whether or not the old key was
pruned (LK-04, LK-05), a late caller on the old key gets a lock of its own
(LK-06), and the state machine sees a second caller get a different object
(LK-08).
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock

BREAKS = ("LK-01", "LK-02", "LK-04", "LK-05", "LK-06", "LK-08")


class NewLockPerCall:
    def __init__(self) -> None:
        self.latest: weakref.WeakValueDictionary[Hashable, KeyedLock] = weakref.WeakValueDictionary()

    def lock_for(self, key: Hashable) -> KeyedLock:
        lock = self.latest[key] = KeyedLock()  # BUG: never looks the key up
        return lock

    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        self.latest[new_key] = held_lock

    def __len__(self) -> int:
        return len(self.latest)


provider = Provider("mutant-new-lock-per-call", keyed_locks=lambda ctx: NewLockPerCall())
