"""Mutant: last_cursor() is the number of events, not the highest cursor.

The durable-agent demo first numbered events by disk row ("event_id == disk
row number"); with cursors taken from the payload's ``sequence_number`` that
is no longer the cursor, and a recovered producer seeding its counter from it
emits duplicates or gaps (ST-03).
"""

from __future__ import annotations

from reference_impl.event_streams import EventStream, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-03",)


class Stream(EventStream):
    async def last_cursor(self) -> int | None:
        await super().last_cursor()
        count = self.__dict__.get("_count", 0)
        return count or None  # BUG: a count of events

    async def emit(self, payload: object, *, close: bool = False) -> int:
        cursor = await super().emit(payload, close=close)
        self.__dict__["_count"] = self.__dict__.get("_count", 0) + 1
        return cursor


class Registry(FileStreamRegistry):
    stream_class = Stream


provider = mutant("mutant-last-cursor-counts", Registry)
