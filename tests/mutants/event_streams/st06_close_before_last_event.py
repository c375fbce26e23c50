"""Mutant: emit(x, close=True) ends the subscribers before it publishes x.

Implemented as "close, then append": a subscriber that was waiting sees the
end of the stream and never the final event (the run_complete a client
waits for), while a later replay has it (ST-06).
"""

from __future__ import annotations

from reference_impl.event_streams import Event, EventStream, FileStreamRegistry, Subscriber

from ._base import mutant

BREAKS = ("ST-06",)


class Stream(EventStream):
    def publish(self, subscribers: list[Subscriber], events: list[Event], *, end: bool) -> None:
        if end:
            for subscriber in subscribers:
                subscriber.end()  # BUG: the end goes out before the last event
        super().publish(subscribers, events, end=False)


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-close-before-last-event", Registry)
