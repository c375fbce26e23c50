"""Mutant: get_or_create checks, awaits its file work, then creates -- without a lock.

Two requests for one new id (the POST that pre-reserves the stream and a GET
racing it) both find no stream, both create one, and the producer writes to
one while the client listens to the other (ST-08).
"""

from __future__ import annotations

import contextlib

from reference_impl.event_streams import EventStream, FileStreamRegistry, StreamGone, StreamNotFound

from ._base import mutant

BREAKS = ("ST-08",)


class Registry(FileStreamRegistry):
    async def get_or_create(self, stream_id: str) -> EventStream:
        with contextlib.suppress(StreamNotFound, StreamGone):
            return await self.get(stream_id)
        return await self.create_stream(stream_id)  # BUG: no registry lock from the check to the create


provider = mutant("mutant-racy-get-or-create", Registry)
