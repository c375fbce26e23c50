"""Mutant: keep-alives are ``data: ping`` messages of the default type.

Without an ``id:`` they leave the cursor alone, but an ``EventSource``
dispatches them to ``onmessage`` like any event: the client's handler gets
``ping`` between real events (SSE-04: keep-alives are not events; a comment
or a named event type is).
"""

from __future__ import annotations

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-04",)


class PingMessage(Wire):
    def keepalive(self) -> str:
        return "data: ping\n\n"  # BUG: an event, as far as the client can tell


provider = sse_mutant("mutant-sse-keepalive-as-message", PingMessage)
