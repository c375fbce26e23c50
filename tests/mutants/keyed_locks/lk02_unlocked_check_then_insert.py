"""Bug: an unlocked check-then-insert in ``lock_for`` (the lock-rotation incident, §3).

``_get_session_agent_lock`` looked the id up and inserted a new lock
without holding the registry mutex.  Two first callers that interleave
between the lookup and the insert each create a lock, and both are inside
"the" session lock at once.  The window is a few bytecodes wide with no
boundary the kit controls: LK-02 stops the first caller before each of its
lines in turn and names the race; the stress rule finds it by chance (LK-09).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock

from ._base import WeakTableRegistry

BREAKS = ("LK-02", "LK-09")


class UnlockedCheckThenInsert(WeakTableRegistry):
    def lock_for(self, key: Hashable) -> KeyedLock:
        lock = self.table.get(key)  # BUG: no mutex between the check and the insert
        if lock is None:
            lock = self.new_lock()
            self.table[key] = lock
        return lock


provider = Provider("mutant-unlocked-check-then-insert", keyed_locks=lambda ctx: UnlockedCheckThenInsert())
