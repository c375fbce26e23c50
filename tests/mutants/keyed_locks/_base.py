"""A plain keyed-lock registry the table mutants start from (not a mutant itself).

Written from the contract (§3), not from the reference: one weak table
(LK-07) read and written under one mutex (LK-01), held locks pinned (LK-01's
SHOULD), rotation binding the new key to the held lock (LK-04..LK-06).  Its
table and mutex are public so that a mutant states its bug in one override.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable

from reference_impl.keyed_locks import KeyedLock


class WeakTableRegistry:
    def __init__(self) -> None:
        self.mutex = threading.Lock()
        self.table: weakref.WeakValueDictionary[Hashable, KeyedLock] = weakref.WeakValueDictionary()
        self.held: set[KeyedLock] = set()  # pins: a held lock outlives its holder's reference

    def new_lock(self) -> KeyedLock:
        return KeyedLock(self.held)

    def lock_for(self, key: Hashable) -> KeyedLock:
        with self.mutex:
            lock = self.table.get(key)
            if lock is None:
                lock = self.table[key] = self.new_lock()
            return lock

    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        with self.mutex:
            bound = self.table.get(new_key)
            if bound is not None and bound is not held_lock:
                raise ValueError(f"cannot rotate onto {new_key!r}: it is bound to another live lock")
            self.table[new_key] = held_lock

    def __len__(self) -> int:
        with self.mutex:
            return len(self.table)
