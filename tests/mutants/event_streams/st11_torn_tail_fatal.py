"""Mutant: recovery treats a torn last record as corruption and refuses the stream.

After a crash in the middle of an emit, the stream cannot be opened at all:
the server that restarts after the crash -- the very case recovery is for --
answers errors for the run's stream until someone edits the file (ST-11).
"""

from __future__ import annotations

from typing import Literal

from reference_impl.event_streams import FileStorage, FileStreamRegistry, Loaded, StreamCorrupt, decode_log

from ._base import mutant

BREAKS = ("ST-11",)


class StrictStorage(FileStorage):
    async def lookup(self, stream_id: str) -> Loaded | Literal["gone"] | None:
        log_path, _ = self.paths_of(stream_id)
        if log_path.exists():
            data = log_path.read_bytes()
            _, whole = decode_log(data, str(log_path))
            if whole < len(data):
                raise StreamCorrupt(f"{log_path.name}: damaged record at byte {whole}")  # BUG: a torn tail is expected
        return await super().lookup(stream_id)


class Registry(FileStreamRegistry):
    storage_class = StrictStorage


provider = mutant("mutant-torn-tail-fatal", Registry)
