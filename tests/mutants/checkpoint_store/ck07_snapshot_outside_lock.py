"""Mutant: the checkpoint reads the session's fields without holding the writer lock.

The checkpoint-race incident's ``test_periodic_checkpoint_uses_agent_lock`` and
``test_periodic_checkpoint_mutation_race_with_undo_last``: the periodic checkpoint
called ``s.save()`` without ``_agent_lock``, so a cancel or undo in progress could
be saved half-done (``active_stream_id`` cleared but the pending message kept).
Here a save takes its snapshot first and only then the writer lock to write it,
and the checkpointer waits on a lock of its own instead of the writer lock -- so a
tick waits inside save for a writer lock the caller of stop() holds (CK-06's
SHOULD, *non-strict*).
"""

import copy
import threading
from pathlib import Path
from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-07",)
NON_STRICT = ("CK-06",)


class UnlockedCheckpointer(Checkpointer):
    def __init__(self, session: Session, lock: threading.RLock, interval: float) -> None:
        super().__init__(session, threading.RLock(), interval)  # BUG: not the writer lock


class SnapshotOutsideLockStore(CheckpointStore):
    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self.early = threading.local()

    def save_session(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        # BUG: the fields are read before save takes the writer lock.
        self.early.record = copy.deepcopy(super().session_record(session, session.updated_at))
        try:
            super().save_session(session, skip_index=skip_index, touch_updated_at=touch_updated_at)
        finally:
            self.early.record = None

    def session_record(self, session: Session, updated_at: float) -> dict[str, Any]:
        early = getattr(self.early, "record", None)
        return super().session_record(session, updated_at) if early is None else early | {"updated_at": updated_at}

    def new_checkpointer(self, session: Session, lock: threading.RLock, interval: float) -> Checkpointer:
        return UnlockedCheckpointer(session, lock, interval)


provider = Provider("mutant-snapshot-outside-lock", checkpoint_store=factory_of(SnapshotOutsideLockStore))
