"""Bug: rotation pops the old id -- split brain (the lock-rotation incident, §3).

The incident's compression step migrated the lock with
``LOCKS[new_sid] = held; LOCKS.pop(old_sid)``.  A late caller that still
uses the old id then finds no entry and creates a second lock, so it and a
holder that came through the new id are inside at once (LK-06), a holder
through the new id no longer excludes callers through the old one (LK-04),
and the registry counts one entry too few (LK-08).  The check of LK-01's
SHOULD, which rotates a held lock nobody references, meets the same split
through the old id: LK-01 is *non-strict*.
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock

from ._base import WeakTableRegistry

BREAKS = ("LK-04", "LK-06", "LK-08")
NON_STRICT = ("LK-01",)


class RotationPopsOld(WeakTableRegistry):
    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        super().rotate(old_key, new_key, held_lock)
        if old_key != new_key:
            with self.mutex:
                self.table.pop(old_key, None)  # BUG: late callers on old_key get a new lock


provider = Provider("mutant-rotation-pops-old", keyed_locks=lambda ctx: RotationPopsOld())
