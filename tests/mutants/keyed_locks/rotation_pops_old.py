"""Bug: rotation pops the old id — split brain (seed 003).

The seed's compression step migrated the lock with
``LOCKS[new_sid] = held; LOCKS.pop(old_sid)``.  A late caller that still
uses the old id then finds no entry and creates a second lock, so it and a
holder that came through the new id are inside at once (LK-06), a holder
through the new id no longer excludes callers through the old one (LK-04),
and the registry counts one entry too few (LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-04", "LK-06", "LK-08")


class RotationPopsOld(KeyedLocks):
    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        super().rotate(old_key, new_key, held_lock)
        if old_key != new_key:
            with self._mutex:
                self._table.pop(old_key, None)  # BUG: late callers on old_key get a new lock


provider = Provider("mutant-rotation-pops-old", keyed_locks=lambda ctx: RotationPopsOld())
