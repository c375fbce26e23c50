"""Mutant: emit(x, close=True) writes and fsyncs x, then writes and fsyncs the close.

Implemented as "emit, then close" with a durable write each: a crash between
the two leaves x on disk without the end, and the recovered stream is active
-- a client waits forever for the end of a run that finished, and the
producer, recovering, emits after what was its final event (ST-10).
"""

from __future__ import annotations

from reference_impl.event_streams import Event, FileStorage, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-10",)


class Apart(FileStorage):
    async def append(self, stream_id: str, events: list[Event], *, close_at: float | None) -> None:
        await super().append(stream_id, events, close_at=None)
        if close_at is not None:
            await self.close(stream_id, close_at)  # BUG: a second write, after the event is already durable


class Registry(FileStreamRegistry):
    storage_class = Apart


provider = mutant("mutant-close-written-apart", Registry)
