"""Mutant: close() ends every subscriber at once, dropping what they had not read yet.

A close that cancels the subscribers' queues instead of appending the end
behind the queued events loses the tail of the stream for every client that
was a little behind -- the last phase of a run, the run_complete event (ST-06).
"""

from __future__ import annotations

from reference_impl.event_streams import Event, EventStream, FileStreamRegistry, Subscriber

from ._base import mutant

BREAKS = ("ST-06",)


class Stream(EventStream):
    def publish(self, subscribers: list[Subscriber], events: list[Event], *, end: bool) -> None:
        if end and not events:  # close()
            for subscriber in subscribers:
                subscriber.cancel()  # BUG: undelivered events are dropped
        super().publish(subscribers, events, end=end)


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-close-drops-queued", Registry)
