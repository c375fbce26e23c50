"""Mutant: recovery skips a torn last record but leaves its bytes in the log.

The next emit is appended right after the torn bytes: the new record and the
remains of the old one read as one damaged record, and the event is lost (or
the stream refused) at the next restart (ST-11).
"""

from __future__ import annotations

from reference_impl.event_streams import FileStorage, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-11",)


class NoTruncate(FileStorage):
    def drop_torn_tail(self, fd: int, whole: int) -> None:
        return None  # BUG: the torn bytes stay, and the next record is appended after them


class Registry(FileStreamRegistry):
    storage_class = NoTruncate


provider = mutant("mutant-torn-tail-kept", Registry)
