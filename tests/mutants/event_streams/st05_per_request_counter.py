"""Mutant: ``after`` is counted per subscription, not compared with cursors.

The durable-agent demo's live stream numbered events with a counter that
started at 0 on every new GET and skipped the first ``last_event_id`` items
of whatever the queue held: a reconnect with ``last_event_id=8092`` landed
mid-phase.  Here ``subscribe(after=N)`` skips the first N events it would
deliver, whatever their cursors (ST-05): a client that resumes beyond the
end waits past the events it should get (ST-07), and so does one that
resumes after a restart (ST-10).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry, Subscriber

from ._base import mutant

BREAKS = ("ST-05", "ST-07", "ST-10")


class CountingSubscriber(Subscriber):
    def __init__(self, stream: EventStream, after: Any, history: list[Any]) -> None:
        # BUG: the request's own counter: skip `after` events, not cursors <= after.
        skip = after or 0
        super().__init__(stream, None, history[skip:])
        self.skip_live = max(0, skip - len(history))

    def push(self, event: Any) -> None:
        if self.skip_live:
            self.skip_live -= 1
            return
        super().push(event)


class Stream(EventStream):
    subscriber_class = CountingSubscriber


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-per-request-counter", Registry)
