"""Mutant: deleting a deleted stream raises.

A cleanup path that deletes a per-turn stream once on completion and again
on shutdown fails the second time (ST-08: delete is idempotent).
"""

from __future__ import annotations

from reference_impl.event_streams import FileStreamRegistry, StreamGone

from ._base import mutant

BREAKS = ("ST-08",)


class Registry(FileStreamRegistry):
    async def delete(self, stream_id: str) -> None:
        if isinstance(await self._find(stream_id), str):
            raise StreamGone(f"stream {stream_id!r} is already gone")  # BUG
        await super().delete(stream_id)


provider = mutant("mutant-delete-not-idempotent", Registry)
