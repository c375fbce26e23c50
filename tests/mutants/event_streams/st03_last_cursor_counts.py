"""Mutant: last_cursor() is the number of events, not the highest cursor.

The durable-agent demo first numbered events by disk row ("event_id == disk
row number"); with cursors taken from the payload's ``sequence_number`` that
is no longer the cursor, and a recovered producer seeding its counter from it
emits duplicates or gaps (ST-03, and after a restart: ST-10).
"""

from __future__ import annotations

from typing import Any

from reference_impl.event_streams import EventStream, FileStreamRegistry, Loaded

from ._base import mutant

BREAKS = ("ST-03", "ST-10")


class Stream(EventStream):
    def __init__(self, registry: Any, stream_id: str, loaded: Loaded) -> None:
        super().__init__(registry, stream_id, loaded)
        self.count = len(loaded.events)  # the disk rows so far

    async def last_cursor(self) -> int | None:
        await super().last_cursor()
        return self.count or None  # BUG: a count of events

    async def emit(self, payload: object, *, close: bool = False) -> int:
        cursor = await super().emit(payload, close=close)
        self.count += 1
        return cursor


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-last-cursor-counts", Registry)
