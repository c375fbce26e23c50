"""Mutant: a subscriber with nothing to replay ends at once, even on an active stream.

"No events after N" is read as "the stream is over": a client that resumes
at the newest cursor (the common reconnect) is told the stream ended while
the producer is still emitting (ST-07).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-07",)


class Stream(EventStream):
    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Any]:
        subscriber = super().subscribe(after=after)
        if after is not None and (self._last is None or after >= self._last):
            subscriber.end()  # type: ignore[attr-defined]  # BUG: nothing to replay is not the end
        return subscriber


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-after-beyond-end-ends", Registry)
