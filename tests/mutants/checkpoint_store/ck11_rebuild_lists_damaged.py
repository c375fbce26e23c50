"""Mutant: the rebuilding store lists every ``*.json`` file by its name, damaged or not.

A rebuild from a directory scan that takes the session id from the file name and
keeps the entry when the file does not parse (with a placeholder title) puts a
session whose file was already damaged into the index, and ``index()`` trusts what
the rebuild wrote -- CK-11's "an index built or rebuilt after the damage skips the
damaged file".
"""

from pathlib import Path
from typing import Any

from pytest_lifecycle import Provider
from tests.alternates.checkpoint_store.rebuilding_index import RebuildingStore, is_safe_id

BREAKS = ("CK-11",)


class NameListingStore(RebuildingStore):
    def entry_from(self, path: Path, session_id: str) -> dict[str, Any] | None:
        entry = super().entry_from(path, session_id)
        if entry is None and is_safe_id(session_id):
            # BUG: a file that does not parse is listed anyway.
            entry = {"session_id": session_id, "title": "(unreadable)", "updated_at": 0.0, "message_count": 0}
        return entry

    def _intact(self, session_id: object) -> bool:
        return True  # and index() trusts the rebuilt list


provider = Provider(
    "mutant-alt-rebuild-lists-damaged", checkpoint_store=lambda ctx: NameListingStore(ctx.path, ctx.clock)
)
