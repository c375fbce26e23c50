"""RS-07 mutant: the lock table never forgets a key.

Seed: "the lock map drops its key after the last queued op resolves (no
leak under churn)".  The entry is created on first use and never deleted:
every (bundle, workspace) ever respawned keeps a lock for the life of the
process.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import RespawnManager


class Broken(RespawnManager):
    def retires_line(self, waiting: int) -> bool:
        return False  # BUG: an empty line stays in the table


BREAKS = ("RS-07",)
provider = Provider("mutant-lock-table-never-shrinks", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
