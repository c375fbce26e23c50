"""Mutant: ``index()`` lists what the index file says, without looking at the session files.

A session whose file was damaged after it was indexed (a disk error, a partial
restore) stays in the list of sessions, and opening it fails.  Nothing is
half-loaded -- ``load`` still raises a clear error -- so only CK-11's SHOULD breaks.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

NON_STRICT = ("CK-11",)


class TrustingIndexStore(CheckpointStore):
    def loads_cleanly(self, session_id: str) -> bool:
        return True  # BUG (a SHOULD): the index keeps a damaged session


provider = Provider("mutant-stale-index-entry", checkpoint_store=factory_of(TrustingIndexStore))
