"""Mutant: an error while writing the index is logged and swallowed.

A full save whose index write fails (EIO, a full disk) returns normally and leaves
the old index on disk: the session is saved but missing from, or stale in, the
list of sessions.  CK-05 allows a save to recover from an I/O error only by writing
the file again from scratch (CK/io-error ``rewrites``); otherwise it must raise.
"""

import logging
from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-05",)


class SwallowingStore(CheckpointStore):
    def update_index(self, entry: dict[str, Any]) -> None:
        try:
            super().update_index(entry)
        except OSError:
            logging.getLogger(__name__).warning("index write failed")  # BUG: swallowed, the index stays stale


provider = Provider("mutant-index-error-swallowed", checkpoint_store=factory_of(SwallowingStore))
