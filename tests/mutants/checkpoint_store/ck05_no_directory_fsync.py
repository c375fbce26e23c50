"""Mutant: the alternate-reading store (rebuilding index, rewrite on I/O error) without the directory fsync.

A rename lives in the directory: until the directory is fsynced a power loss can
bring back the old name (or no file at all) although ``save`` returned -- the bug
the kit found in a production session store, whose ``os.rename`` of
``durable.tmp.…`` onto ``durable.json`` was not followed by an fsync of its
directory (CK-05).  The alternate's other readings stay correct, so only CK-05 breaks.
"""

from pathlib import Path

from pytest_lifecycle import Provider
from tests.alternates.checkpoint_store.rebuilding_index import RebuildingStore

BREAKS = ("CK-05",)


class NoDirectoryFsyncStore(RebuildingStore):
    def sync_directory(self, directory: Path) -> None:
        pass  # BUG: the rename is never made durable


provider = Provider(
    "mutant-alt-without-dir-fsync", checkpoint_store=lambda ctx: NoDirectoryFsyncStore(ctx.path, ctx.clock)
)
