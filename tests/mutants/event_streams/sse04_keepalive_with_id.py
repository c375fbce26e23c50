"""Mutant: keep-alives carry an ``id:`` (a millisecond timestamp).

The server stamps every message it writes with an id, keep-alives included.
An ``EventSource`` takes the id of any message as its cursor, so after a
keep-alive the client resumes after a timestamp: past every real event
(SSE-04).
"""

from __future__ import annotations

import time

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-04",)


class StampedKeepalive(Wire):
    def keepalive(self) -> str:
        return f"event: ping\nid: {time.time_ns() // 1_000_000}\ndata: \n\n"  # BUG: moves the cursor


provider = sse_mutant("mutant-sse-keepalive-with-id", StampedKeepalive)
