"""Mutant: every subscriber of a stream reads from one shared queue (single consumer).

The durable-agent demo served reconnecting clients from the framework's
single-consumer stream queue: a second GET dequeued what the first had not
read yet, so a client that reconnected missed events ("one or two delta
misses are acceptable").  Here all subscribers of a stream share the first
subscriber's queue, so each event goes to whichever reads first (ST-04).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry, Subscriber

from ._base import mutant

BREAKS = ("ST-04",)


class SharedQueueSubscriber(Subscriber):
    def __init__(self, stream: EventStream, after: Any, history: list[Any]) -> None:
        super().__init__(stream, after, history)
        shared = stream.__dict__.setdefault("_shared_queue", None)
        if shared is None:
            stream.__dict__["_shared_queue"] = self._queue
        else:
            self._queue = shared  # BUG: the next subscriber consumes the same queue
        stream.__dict__.setdefault("_shared_subs", []).append(self)

    def _wake(self) -> None:
        for sub in self._stream.__dict__.get("_shared_subs", [self]):
            Subscriber._wake(sub)

    def push(self, event: Any) -> None:
        # One queue: append each event once, whoever is asked.
        if self._queue and self._queue[-1] is event:
            return self._wake()
        super().push(event)


class SharedQueueStream(EventStream):
    subscriber_class = SharedQueueSubscriber


class Registry(FileStreamRegistry):
    stream_class = SharedQueueStream


provider = mutant("mutant-stealing-queue", Registry)
