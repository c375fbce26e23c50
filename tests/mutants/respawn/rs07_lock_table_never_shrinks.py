"""RS-07 mutant: the lock table never forgets a key.

Seed: "the lock map drops its key after the last queued op resolves (no
leak under churn)".  The entry is created on first use and never deleted:
every (bundle, workspace) ever respawned keeps a lock for the life of the
process.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import Key, RespawnManager, _Line


class Broken(RespawnManager):
    def _leave(self, key: Key, line: _Line, ticket: object) -> None:
        was_head = line.queue[0] is ticket
        line.queue.remove(ticket)
        if line.queue and was_head:  # BUG: an empty line stays in the table
            line.turn.notify_all()


BREAKS = ("RS-07",)
provider = Provider("mutant-lock-table-never-shrinks", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
