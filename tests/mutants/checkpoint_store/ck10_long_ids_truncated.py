"""Mutant: long session ids are cut to 100 characters to fit the file system.

Instead of refusing an id too long for a file name (ValueError, or the file
system's OSError), the store truncates it: two long ids with a common prefix then
share one file, and saving the second silently replaces the first (CK-10).
"""

from pathlib import Path

from pytest_lifecycle import Provider
from tests.alternates.checkpoint_store.rebuilding_index import RebuildingStore

BREAKS = ("CK-10",)


class TruncatingStore(RebuildingStore):
    def path_of(self, session_id: str) -> Path:
        return self.directory / f"{session_id[:100]}.json"  # BUG: distinct ids, one file


provider = Provider("mutant-long-ids-truncated", checkpoint_store=lambda ctx: TruncatingStore(ctx.path, ctx.clock))
