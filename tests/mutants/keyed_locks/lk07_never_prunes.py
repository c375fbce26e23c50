"""Bug: the registry never prunes (the lock-rotation incident, §3).

The incident's ``SESSION_AGENT_LOCKS`` was a plain dict: every lock ever
made stays referenced, so every session id ever used, and every rotated
alias, keeps its entry forever.  ``len(registry)`` never goes back to its
baseline and memory grows with every key (LK-07); the state machine sees
entries that should be gone (LK-08).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-07", "LK-08")


class NeverPrunes(KeyedLocks):
    def __init__(self) -> None:
        super().__init__()
        self.every_lock: list[KeyedLock] = []

    def new_lock(self) -> KeyedLock:
        lock = super().new_lock()
        self.every_lock.append(lock)  # BUG: a strong reference, never removed
        return lock


provider = Provider("mutant-never-prunes", keyed_locks=lambda ctx: NeverPrunes())
