"""Mutant: ``data:`` is the payload JSON-encoded twice.

The durable-agent demo's replay path read each stored line with
``json.loads`` and wrapped it again with ``json.dumps`` before writing
``data: ...``: the payload was already a JSON string, so clients got
``data: "{\\"type\\": ...}"`` and rendered ``[unknown event]`` (SSE-01, and
the events reassembled across reconnects are strings, not payloads: SSE-02).
"""

from __future__ import annotations

import json
from typing import Any

from reference_impl.sse import Wire

from ._sse_base import sse_mutant

BREAKS = ("SSE-01", "SSE-02")


class EncodedTwice(Wire):
    def event(self, cursor: int, payload: Any) -> str:
        stored = json.dumps(payload)  # what the store holds: a JSON string
        return f"id: {cursor}\ndata: {json.dumps(stored)}\n\n"  # BUG: encoded again


provider = sse_mutant("mutant-sse-data-encoded-twice", EncodedTwice)
