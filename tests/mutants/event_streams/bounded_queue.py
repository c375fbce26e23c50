"""Mutant: each subscriber's queue holds at most three unread events and drops the oldest.

A bounded ``asyncio.Queue`` with a "drop the oldest when full" policy keeps
a slow client from holding memory -- and silently gives it a gap: a client
that subscribed and then read after a burst of events misses the start of
the burst.  Short directed scenarios never queue that many events for one
subscriber; random interleavings of emits and late reads do (ST-13).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry, Subscriber

from ._base import mutant

BREAKS = ("ST-13",)

#: Unread live events a subscriber keeps.
BOUND = 3


class BoundedSubscriber(Subscriber):
    def push(self, event: Any) -> None:
        super().push(event)
        if len(self._queue) > BOUND:
            self._queue.popleft()  # BUG: the oldest unread event is dropped


class Stream(EventStream):
    subscriber_class = BoundedSubscriber


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-bounded-queue", Registry)
