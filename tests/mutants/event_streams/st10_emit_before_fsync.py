"""Mutant: emit returns once the record is written, and fsyncs it later, in the background.

Fast, and it survives a SIGKILL (the page cache outlives the process) -- but
a power loss drops events whose emit had returned, so a producer that moved
on (and a client that saw them) disagree with the recovered stream (ST-10).
"""

from __future__ import annotations

from reference_impl.event_streams import FileStorage, FileStreamRegistry

from ._base import mutant

BREAKS = ("ST-10",)


class LazyStorage(FileStorage):
    def sync_log(self, fd: int) -> None:
        pass  # BUG: no fsync before returning (a background flush would come later)


class Registry(FileStreamRegistry):
    storage_class = LazyStorage


provider = mutant("mutant-emit-before-fsync", Registry)
