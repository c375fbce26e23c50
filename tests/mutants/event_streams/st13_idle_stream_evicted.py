"""Mutant: get() evicts a stream whose events have all expired, even an active one.

A TTL sweep that evicts every stream with nothing left to replay, not only
closed ones: a producer that was quiet for longer than the TTL (a long tool
call, an LLM cooldown) finds its stream gone, and a client that reconnects
gets 410 while the run goes on.  The directed scenarios keep their stream
handles; only random interleavings of clock moves and lookups (ST-13) meet it.
"""

from __future__ import annotations

from reference_impl.event_streams import EventStream, FileStreamRegistry, StreamGone

from ._base import mutant

BREAKS = ("ST-13",)


class Registry(FileStreamRegistry):
    async def get(self, stream_id: str) -> EventStream:
        stream = await super().get(stream_id)
        ttl = self.ttl_seconds
        if ttl is not None and stream.newest_at is not None and self.clock() - stream.newest_at > ttl:
            raise StreamGone(f"stream {stream_id!r} expired")  # BUG: active streams do not expire
        return stream


provider = mutant("mutant-idle-stream-evicted", Registry)
