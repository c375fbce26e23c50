"""Bug: rotation looks the old id up and raises ``KeyError`` once it was pruned (seed 003).

``test_lock_rotation_migration_survives_old_id_already_pruned``: a
concurrent session delete may prune the old id before the compression step
migrates its lock.  This registry migrates the *entry*
(``table[new] = table[old]``) instead of binding the held lock, so the
rotation fails with ``KeyError`` (LK-05, LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-05", "LK-08")


class RotationLooksUpOld(KeyedLocks):
    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        with self._mutex:
            self._table[new_key] = self._table[old_key]  # BUG: KeyError when old_key was pruned


provider = Provider("mutant-rotation-looks-up-old", keyed_locks=lambda ctx: RotationLooksUpOld())
