"""Bug: pruning while held — the last one out drops the entry (seed 003).

Releasing a lock removes its keys from the registry ("nobody holds it any
more"), but a waiter already queued on that lock becomes its holder with no
entry left: the next ``lock_for(k)`` creates a second lock while the first
is held (LK-01).  The state machine sees the entries vanish while threads
still reference the lock (LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-01", "LK-08")


class _PruningLock(KeyedLock):
    __slots__ = ("_registry",)

    def __init__(self, registry: PruneOnRelease) -> None:
        super().__init__(registry._held)
        self._registry = registry

    def release(self) -> None:
        super().release()
        self._registry.forget(self)  # BUG: a waiter may hold it a moment later


class PruneOnRelease(KeyedLocks):
    def lock_for(self, key: Hashable) -> KeyedLock:
        with self._mutex:
            lock = self._table.get(key)
            if lock is None:
                lock = _PruningLock(self)
                self._table[key] = lock
            return lock

    def forget(self, lock: KeyedLock) -> None:
        with self._mutex:
            for key in [k for k, v in self._table.items() if v is lock]:
                del self._table[key]


provider = Provider("mutant-prune-on-release", keyed_locks=lambda ctx: PruneOnRelease())
