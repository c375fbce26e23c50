"""Bug: one global lock for every key (seed 003).

The "safe" fix for split locks: hand every key the same lock.  Rotation and
identity look fine, but holding one session blocks every other (LK-03), and
the state machine sees a fresh key resolve to another key's live lock (LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-03", "LK-08")


class OneGlobalLock(KeyedLocks):
    def __init__(self) -> None:
        super().__init__()
        self._global = KeyedLock(self._held)

    def lock_for(self, key: Hashable) -> KeyedLock:
        with self._mutex:
            self._table[key] = self._global  # BUG: every key shares one lock
            return self._global


provider = Provider("mutant-one-global-lock", keyed_locks=lambda ctx: OneGlobalLock())
