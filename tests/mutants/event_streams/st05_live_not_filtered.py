"""Mutant: subscribe(after=N) filters the history but hands live events over unfiltered.

A public implementation of this very surface applies ``after`` when it
replays the log and forgets it for the live queue: a client that resumes at
a cursor ahead of the stream (or whose live event has a cursor <= N) gets
events it asked to skip (ST-05), also when it resumed beyond the end of an
active stream (ST-07).
"""

from __future__ import annotations

from reference_impl.event_streams import Event, EventStream, FileStreamRegistry, Subscriber

from ._base import mutant

BREAKS = ("ST-05", "ST-07")


class UnfilteredLive(Subscriber):
    def push(self, event: Event) -> None:
        self.deliver(event)  # BUG: no `event.cursor > after` check for live events


class Stream(EventStream):
    subscriber_class = UnfilteredLive


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-live-not-filtered", Registry)
