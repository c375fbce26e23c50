"""Mutant: a recovered stream forgets its cursors: last_cursor() is None until the next emit.

The durable-agent demo's recovered handler had to "seed an in-memory sequence
counter from stream.last_cursor() -- so crash recovery resumes numbering from
the highest sequence_number that made it to disk, no gap and no duplicate
cursor".  Here the log is replayed but the cursor is not restored: the
recovered producer starts again at 1 and every cursor it emits is a
duplicate (ST-10); a stream recovered from a torn log reports no cursor
either (ST-11).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry, Loaded

from ._base import mutant

BREAKS = ("ST-10", "ST-11")


class Stream(EventStream):
    def __init__(self, registry: Any, stream_id: str, loaded: Loaded) -> None:
        super().__init__(registry, stream_id, loaded)
        self.emitted_here = False

    async def last_cursor(self) -> int | None:
        newest = await super().last_cursor()
        return newest if self.emitted_here else None  # BUG: the highest durable cursor is not restored

    async def emit(self, payload: Any, *, close: bool = False) -> int:
        cursor = await super().emit(payload, close=close)
        self.emitted_here = True
        return cursor


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-reseed-from-zero", Registry)
