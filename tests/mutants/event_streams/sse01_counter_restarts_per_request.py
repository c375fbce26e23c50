"""Mutant: event ids come from a counter that restarts with every request.

The durable-agent demo's live stream numbered events with a per-invocation
counter starting at 0 on each new GET: ``id: N`` meant "the N-th message of
this response", not a position in the stream, so a reconnect with
``Last-Event-ID: 8092`` landed mid-phase.  Here the ids count the response's
messages (SSE-01) and a reconnect resumes after a cursor that is no cursor
(SSE-02).
"""

from __future__ import annotations

from typing import Any

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-01", "SSE-02")


class PerRequestCounter(Wire):
    def __init__(self) -> None:
        self.sent = 0  # BUG: one counter per response

    def event(self, cursor: int, payload: Any) -> str:
        self.sent += 1
        return super().event(self.sent, payload)


provider = sse_mutant("mutant-sse-counter-restarts-per-request", PerRequestCounter)
