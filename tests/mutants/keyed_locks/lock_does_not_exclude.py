"""Bug: the lock does not exclude (seed 003).

``acquire`` always succeeds and ``release`` does nothing — a lock stubbed
out "for now".  Identity and rotation are perfect, but two callers are
inside at once and a read-modify-write counter loses updates (LK-02); the
state machine sees a try-acquire of a held lock succeed (LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-02", "LK-08")


class _NoLock(KeyedLock):
    __slots__ = ()

    def acquire(self, timeout: float | None = None) -> bool:
        return True  # BUG: nobody is ever kept out

    def release(self) -> None:
        pass

    def locked(self) -> bool:
        return False


class DoesNotExclude(KeyedLocks):
    def lock_for(self, key: Hashable) -> KeyedLock:
        with self._mutex:
            lock = self._table.get(key)
            if lock is None:
                lock = _NoLock()
                self._table[key] = lock
            return lock


provider = Provider("mutant-lock-does-not-exclude", keyed_locks=lambda ctx: DoesNotExclude())
