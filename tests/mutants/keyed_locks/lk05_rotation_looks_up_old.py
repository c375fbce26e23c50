"""Bug: rotation looks the old id up and raises ``KeyError`` once it was pruned (LK-05).

In the lock-rotation incident a concurrent session delete may prune the old
id before the compression step migrates its lock.  This registry migrates
the *entry* (``table[new] = table[old]``) instead of binding the held lock,
so the rotation fails with ``KeyError`` (LK-05, LK-08).
"""

from __future__ import annotations

from collections.abc import Hashable

from pytest_lifecycle import Provider
from reference_impl.keyed_locks import KeyedLock, KeyedLocks

BREAKS = ("LK-05", "LK-08")


class RotationLooksUpOld(KeyedLocks):
    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        if old_key not in self:
            raise KeyError(old_key)  # BUG: migrates the old entry, which a prune may have removed
        super().rotate(old_key, new_key, self.lock_for(old_key))


provider = Provider("mutant-rotation-looks-up-old", keyed_locks=lambda ctx: RotationLooksUpOld())
