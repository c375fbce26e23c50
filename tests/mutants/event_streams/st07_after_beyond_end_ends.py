"""Mutant: a subscriber with nothing to replay ends at once, even on an active stream.

"No events after N" is read as "the stream is over": a client that resumes
at the newest cursor (the common reconnect) is told the stream ended while
the producer is still emitting (ST-07) -- as is every check of another rule
that resumes at the newest cursor and waits for what comes next: live
events after ``after`` (ST-05), the last event of ``emit(x, close=True)``
(ST-06), the producer continuing after a restart (ST-10).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-07", "ST-05", "ST-06", "ST-10")


class Stream(EventStream):
    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Any]:
        subscriber = super().subscribe(after=after)
        newest = self.newest_cursor
        if after is not None and (newest is None or after >= newest):
            subscriber.end()  # type: ignore[attr-defined]  # BUG: nothing to replay is not the end
        return subscriber


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-after-beyond-end-ends", Registry)
