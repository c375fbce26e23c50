"""Mutant: a truncated or corrupt session file loads as an empty session.

CK-11's half-load: the JSON error is swallowed and a blank session comes back,
which the next save then writes over what was left of the real one.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore, CorruptSessionError, Session

from ._base import factory_of

BREAKS = ("CK-11",)


class HalfLoadingStore(CheckpointStore):
    def load(self, session_id: str) -> Session | None:
        try:
            return super().load(session_id)
        except CorruptSessionError:
            # BUG: a damaged file becomes an empty session instead of an error.
            return self.create(session_id, title="", messages=[])

    def loads_cleanly(self, session_id: str) -> bool:
        return True  # and the index keeps listing it


provider = Provider("mutant-truncated-half-loaded", checkpoint_store=factory_of(HalfLoadingStore))
