"""Mutant: session ids go into file names unchecked.

CK-10's path traversal: ``create("../x")`` followed by ``save()`` writes
``../x.json`` next to the store's directory (and ``load("../x")`` reads there).
"""

import threading
from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import (
    _SESSION_FIELDS,
    CheckpointStore,
    CorruptSessionError,
    Session,
    _read_record,
    _validated,
)

from ._base import factory_of

BREAKS = ("CK-10",)


class UncheckedIdStore(CheckpointStore):
    # BUG: none of these validates the id.
    def create(self, session_id: str, *, title: str, messages: list[dict[str, Any]]) -> Session:
        now = float(self._clock())
        session = Session(self, session_id, title=title, messages=list(messages), updated_at=now)
        _validated(session._record(now))
        return session

    def load(self, session_id: str) -> Session | None:
        try:
            record = _read_record(self._session_path(session_id), session_id)
        except (FileNotFoundError, CorruptSessionError):
            return None
        return Session(self, **{name: record[name] for name in _SESSION_FIELDS})

    def lock_for(self, session_id: str) -> threading.RLock:
        with self._locks_guard:
            return self._locks.setdefault(session_id, threading.RLock())


provider = Provider("mutant-no-id-validation", checkpoint_store=factory_of(UncheckedIdStore))
