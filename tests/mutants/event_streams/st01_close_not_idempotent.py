"""Mutant: a second close() raises *closed*.

A producer that closes in its normal path and again in a ``finally`` safety
net (the durable-agent demo's close-before-return discipline with a
try/finally close) crashes on the second close (ST-01).
"""

from __future__ import annotations

from reference_impl.event_streams import EventStream, FileStreamRegistry, StreamClosed

from ._base import mutant

BREAKS = ("ST-01",)


class Stream(EventStream):
    async def close(self) -> None:
        if self.state == "closed":
            raise StreamClosed(f"stream {self.id!r} is already closed")  # BUG: not idempotent
        await super().close()


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-close-not-idempotent", Registry)
