"""Mutant: ``load`` of a file holding valid JSON that is no session object raises AttributeError.

``json.loads`` of ``[]`` or ``null`` succeeds, and the next line's ``record.get(...)``
fails with ``AttributeError: 'list' object has no attribute 'get'`` -- nothing is
half-loaded, but the caller gets no clear error naming the damaged file (CK-11's
SHOULD), as in the production session store.
"""

import json

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore, Session

from ._base import factory_of

NON_STRICT = ("CK-11",)


class UnclearErrorStore(CheckpointStore):
    def load(self, session_id: str) -> Session | None:
        try:
            raw = self.path_of(self.check_session_id(session_id)).read_bytes()
        except (FileNotFoundError, ValueError):
            return super().load(session_id)  # not saved, or an id the reference refuses
        try:
            record = json.loads(raw)
        except ValueError:
            return super().load(session_id)  # clear: the reference's CorruptSessionError
        record.get("session_id")  # BUG (a SHOULD): AttributeError on [] and null
        return super().load(session_id)


provider = Provider("mutant-unclear-corrupt-error", checkpoint_store=factory_of(UnclearErrorStore))
