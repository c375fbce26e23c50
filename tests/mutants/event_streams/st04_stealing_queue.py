"""Mutant: every subscriber of a stream reads from one shared queue (single consumer).

The durable-agent demo served reconnecting clients from the framework's
single-consumer stream queue: a second GET dequeued what the first had not
read yet, so a client that reconnected missed events ("one or two delta
misses are acceptable").  Here every live event goes to the oldest live
subscriber of the stream, as the first GET's queue took what later ones waited
for (ST-04).
Every other check that reads a stream with two subscribers at once misses
events too: resumes (ST-05), draining a close (ST-06), events handed out
before they expire (ST-09), the producer continuing after a restart (ST-10).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from reference_impl.event_streams import Event, EventStream, FileStreamRegistry, Loaded, Subscriber

from ._base import mutant

BREAKS = ("ST-04", "ST-05", "ST-06", "ST-09", "ST-10")


class SharedQueueStream(EventStream):
    def __init__(self, registry: Any, stream_id: str, loaded: Loaded) -> None:
        super().__init__(registry, stream_id, loaded)
        self.consumers: list[Subscriber] = []  # in the order they subscribed

    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Any]:
        subscriber = super().subscribe(after=after)
        self.consumers.append(subscriber)  # type: ignore[arg-type]
        return subscriber

    def publish(self, subscribers: list[Subscriber], events: list[Event], *, end: bool) -> None:
        oldest = next((s for s in self.consumers if s in subscribers), None)
        if oldest is not None:
            for event in events:
                oldest.push(event)  # BUG: one consumer takes every event
        super().publish(subscribers, [], end=end)


class Registry(FileStreamRegistry):
    stream_class = SharedQueueStream


provider = mutant("mutant-stealing-queue", Registry)
