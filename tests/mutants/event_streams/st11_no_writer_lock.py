"""Mutant: two processes may write one stream's log.

No lock on the log: a second server (a rolling deploy, a restarted worker
while the old one still runs) appends to the same file, the two sequences
interleave and cursors repeat (ST-11).
"""

from __future__ import annotations

from pathlib import Path

from reference_impl.event_streams import FileStorage, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-11",)


class Unlocked(FileStorage):
    def claim_writer(self, fd: int, stream_id: str, path: Path) -> None:
        return None  # BUG: nothing keeps a second writer out


class Registry(FileStreamRegistry):
    storage_class = Unlocked


provider = mutant("mutant-no-writer-lock", Registry)
