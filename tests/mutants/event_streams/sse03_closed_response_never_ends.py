"""Mutant: the response of a closed stream never ends.

The handler loops "until the client goes away", sending keep-alives once
the subscription is over: a client of a closed stream waits forever for an
end that never comes, instead of closing after the last event (SSE-03).
The kit fails it when its timeout runs out, naming the stream and the last
id received.
"""

from __future__ import annotations

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-03",)


class NeverEnds(Wire):
    def ends_when_closed(self) -> bool:
        return False  # BUG: keep the response open after the last event


provider = sse_mutant("mutant-sse-closed-response-never-ends", NeverEnds)
