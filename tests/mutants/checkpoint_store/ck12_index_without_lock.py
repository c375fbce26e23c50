"""Mutant: the index is read-modified-written without the store-wide lock.

CK-12's lost entry: two full saves of different sessions (which hold different
session locks) both read the old index, and the second rename drops the first
session's entry.
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-12",)


class UnlockedIndexStore(CheckpointStore):
    def update_index(self, entry: dict[str, Any]) -> None:
        entries = self.read_index()  # BUG: no store-wide lock around the read-modify-write
        entries[entry["session_id"]] = entry
        self.write_index(entries)


provider = Provider("mutant-index-without-lock", checkpoint_store=factory_of(UnlockedIndexStore))
