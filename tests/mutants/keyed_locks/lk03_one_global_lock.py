"""Bug: one global lock for every key (the lock-rotation incident, §3).

The "safe" fix for split locks: hand every key the same lock.  Rotation and
identity look fine, but holding one session blocks every other (LK-03), the
one lock lives for ever, so no key ever leaves the registry (LK-07), and the
state machine sees a fresh key resolve to another key's live lock (LK-08).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-03", "LK-07", "LK-08")


class OneGlobalLock(KeyedLocks):
    def __init__(self) -> None:
        super().__init__()
        self.the_lock = super().new_lock()

    def new_lock(self) -> KeyedLock:
        return self.the_lock  # BUG: every key shares one lock


provider = Provider("mutant-one-global-lock", keyed_locks=lambda ctx: OneGlobalLock())
