"""Mutant: the GET handler calls ``get_or_create``.

So that a racing GET never sees a 404 before the producer reserved the
stream, the handler creates what it does not find: an unknown id answers
200 with an empty stream that never ends, and a deleted one comes back
from the dead (SSE-03).
"""

from __future__ import annotations

from typing import Any

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-03",)


class CreatingGet(Wire):
    async def find(self, registry: Any, stream_id: str) -> Any:
        return await registry.get_or_create(stream_id)  # BUG: no 404, no 410


provider = sse_mutant("mutant-sse-get-creates-stream", CreatingGet)
