"""Bug: pruning while held -- the last one out drops the entry (the lock-rotation incident, §3).

Releasing a lock removes its keys from the registry ("nobody holds it any
more"), but a waiter already queued on that lock becomes its holder with no
entry left: the next ``lock_for(k)`` creates a second lock while the first
is held (LK-01), and callers queued on the lock no longer exclude the ones
that come later (LK-02).  A rotated key, and the old key a late caller still
uses, lose their entry at the first release (LK-04, LK-06), and a lock that
is still referenced has no entry (LK-07).  The state machine sees the
entries vanish while threads still reference the lock (LK-08).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock

from ._base import WeakTableRegistry

BREAKS = ("LK-01", "LK-02", "LK-04", "LK-06", "LK-07", "LK-08")


class PruningLock(KeyedLock):
    __slots__ = ("registry",)

    def __init__(self, registry: PruneOnRelease) -> None:
        super().__init__(registry.held)
        self.registry = registry

    def release(self) -> None:
        super().release()
        self.registry.forget(self)  # BUG: a waiter may hold it a moment later


class PruneOnRelease(WeakTableRegistry):
    def new_lock(self) -> KeyedLock:
        return PruningLock(self)

    def forget(self, lock: KeyedLock) -> None:
        with self.mutex:
            for key in [k for k, v in self.table.items() if v is lock]:
                del self.table[key]


provider = Provider("mutant-prune-on-release", keyed_locks=lambda ctx: PruneOnRelease())
