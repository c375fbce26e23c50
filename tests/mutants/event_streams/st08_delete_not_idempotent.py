"""Mutant: deleting a deleted stream raises.

A cleanup path that deletes a per-turn stream once on completion and again
on shutdown fails the second time (ST-08: delete is idempotent).
"""

from __future__ import annotations

import contextlib

from reference_impl.event_streams import FileStreamRegistry, StreamNotFound

from ._base import mutant

BREAKS = ("ST-08",)


class Registry(FileStreamRegistry):
    async def delete(self, stream_id: str) -> None:
        with contextlib.suppress(StreamNotFound):
            await self.get(stream_id)  # BUG: raises *gone* for a stream deleted before
        await super().delete(stream_id)


provider = mutant("mutant-delete-not-idempotent", Registry)
