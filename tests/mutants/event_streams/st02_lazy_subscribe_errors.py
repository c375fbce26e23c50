"""Mutant: subscribe() is an async generator, so a deleted stream fails only when read.

An ``async def subscribe(...)`` with ``yield`` runs none of its body at the
call: the HTTP handler that maps *gone* to 410 before it starts the response
sees no error, sends 200 and the headers, and the stream then breaks inside
the body (ST-02).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-02",)


class Stream(EventStream):
    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Any]:
        parent = super()

        async def lazily() -> AsyncIterator[Any]:
            # BUG: the state check runs at the first read, not at the call.
            async for item in parent.subscribe(after=after):
                yield item

        return lazily()


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-lazy-subscribe-errors", Registry)
