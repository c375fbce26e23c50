"""Bug: an audit log of rotations that is never trimmed (the lock-rotation incident, §3).

Entries come and go correctly -- ``len(registry)`` is back to its baseline
after churn -- but every rotation appends ``(old_id, new_id)`` to a list
kept for debugging, so memory grows with every rotated key.  Only the
memory half of LK-07 (``tracemalloc`` growth) can see it.
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-07",)


class RotationLog(KeyedLocks):
    def __init__(self) -> None:
        super().__init__()
        self.rotations: list[tuple[Hashable, Hashable]] = []

    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        super().rotate(old_key, new_key, held_lock)
        self.rotations.append((old_key, new_key))  # BUG: never trimmed


provider = Provider("mutant-rotation-log-leak", keyed_locks=lambda ctx: RotationLog())
