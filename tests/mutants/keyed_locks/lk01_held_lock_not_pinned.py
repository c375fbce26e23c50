"""Bug: a weak-valued registry that does not pin held locks (LK-01's SHOULD).

The registry keeps its locks weakly -- right for LK-07 -- and trusts every
holder to keep the lock object it holds.  A caller that does not
(``reg.lock_for(k).acquire()``, and later ``reg.lock_for(k).release()``)
leaves a held lock that nothing references: it is collected while held, the
next ``lock_for(k)`` makes a second lock and gets in beside the holder, and
the holder's own release then finds a lock it never acquired.  Callers that
write ``with reg.lock_for(k):`` never see it, so every MUST holds and the
kit reports LK-01 *non-strict*.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ()
NON_STRICT = ("LK-01",)


class HeldLockNotPinned(KeyedLocks):
    def new_lock(self) -> KeyedLock:
        return KeyedLock()  # BUG: no pins -- only its callers keep a held lock alive


provider = Provider("mutant-held-lock-not-pinned", keyed_locks=lambda ctx: HeldLockNotPinned())
