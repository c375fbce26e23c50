"""Mutant: the ``id:`` is not the cursor but the next offset (cursor + 1).

Kafka-style thinking: a message's id is "where to resume from", so the
server writes ``id: cursor + 1`` and resumes *from* ``Last-Event-ID``.  Over
its own wire it is self-consistent -- a reconnect loses nothing -- but the
id a client stores is not the event's cursor, so a client that resumes with
a cursor it read (``?after=``, ``last_cursor()``) or compares ids with
cursors is off by one (SSE-01).
"""

from __future__ import annotations

from typing import Any

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-01",)


class NextOffset(Wire):
    def event(self, cursor: int, payload: Any) -> str:
        return super().event(cursor + 1, payload)  # BUG: the id is where to resume from

    def after(self, last_event_id: int | None) -> int | None:
        return None if last_event_id is None else last_event_id - 1  # resume *from* the offset


provider = sse_mutant("mutant-sse-id-is-next-offset", NextOffset)
