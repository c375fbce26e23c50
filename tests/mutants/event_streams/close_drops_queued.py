"""Mutant: close() ends every subscriber at once, dropping what they had not read yet.

A close that cancels the subscribers' queues instead of appending the end
behind the queued events loses the tail of the stream for every client that
was a little behind -- the last phase of a run, the run_complete event (ST-06).
"""

from __future__ import annotations

from reference_impl.event_streams import EventStream, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-06",)


class Stream(EventStream):
    async def close(self) -> None:
        for subscriber in list(self._subscribers):
            subscriber._queue.clear()  # BUG: undelivered events are dropped
        await super().close()


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-close-drops-queued", Registry)
