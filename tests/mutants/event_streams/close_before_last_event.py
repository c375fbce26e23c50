"""Mutant: emit(x, close=True) ends the subscribers before it publishes x.

Implemented as "close, then append": a subscriber that was waiting sees the
end of the stream and never the final event (the run_complete a client
waits for), while a later replay has it (ST-06).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-06",)


class Stream(EventStream):
    async def emit(self, payload: Any, *, close: bool = False) -> int:
        if close:
            for subscriber in list(self._subscribers):
                subscriber.end()  # BUG: the end goes out before the last event
        return await super().emit(payload, close=close)


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-close-before-last-event", Registry)
