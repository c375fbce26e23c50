"""RS-07 mutant: a key is dropped from the lock table while others are queued.

Seed: "the lock map drops its key after the last queued op resolves" --
the *last*.  Here whoever finishes deletes the key (``locks.delete(key)`` in
the ``finally`` of every op), so while later respawns are still queued the
key has no entry, and the next caller creates a fresh, unrelated lock.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.respawn import RespawnManager


class Broken(RespawnManager):
    def retires_line(self, waiting: int) -> bool:
        return True  # BUG: dropped even when the line still has waiters


BREAKS = ("RS-07",)
provider = Provider("mutant-key-dropped-while-queued", respawn=lambda ctx: Broken(ctx.remove_source, ctx.start_source))
