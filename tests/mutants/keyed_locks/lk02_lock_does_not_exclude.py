"""Bug: the lock does not exclude (the lock-rotation incident, §3).

``acquire`` always succeeds and ``release`` does nothing -- a lock stubbed
out "for now".  Identity and rotation are perfect, but two callers are
inside at once and a read-modify-write counter loses updates (LK-02), a
holder excludes no caller of a rotated key, old or new (LK-04, LK-05,
LK-06), and the state machine sees a try-acquire of a held lock succeed
(LK-08).  The check of LK-01's SHOULD (a held lock nobody references still
excludes) cannot tell it from an unpinned lock: LK-01 is *non-strict*.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-02", "LK-04", "LK-05", "LK-06", "LK-08")
NON_STRICT = ("LK-01",)


class NoLock(KeyedLock):
    __slots__ = ()

    def acquire(self, timeout: float | None = None) -> bool:
        return True  # BUG: nobody is ever kept out

    def release(self) -> None:
        pass

    def locked(self) -> bool:
        return False


class DoesNotExclude(KeyedLocks):
    def new_lock(self) -> KeyedLock:
        return NoLock()


provider = Provider("mutant-lock-does-not-exclude", keyed_locks=lambda ctx: DoesNotExclude())
