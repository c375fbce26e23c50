"""Mutant: get_or_create checks, awaits its file work, then creates -- without a lock.

Two requests for one new id (the POST that pre-reserves the stream and a GET
racing it) both find no stream, both create one, and the producer writes to
one while the client listens to the other (ST-08).
"""

from __future__ import annotations

from reference_impl.event_streams import EventStream, FileStreamRegistry, Loaded

from ._base import mutant

BREAKS = ("ST-08",)


class Registry(FileStreamRegistry):
    async def get_or_create(self, stream_id: str) -> EventStream:
        # BUG: no registry lock around check-then-create.
        found = await self._find(stream_id)
        if isinstance(found, EventStream):
            return found
        await self.storage.create(stream_id)
        stream = self.stream_class(self, stream_id, Loaded([], False))
        self._streams[stream_id] = stream
        return stream


provider = mutant("mutant-racy-get-or-create", Registry)
