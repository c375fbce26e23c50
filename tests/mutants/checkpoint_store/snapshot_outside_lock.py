"""Mutant: the checkpoint serialises the session's fields without holding the writer lock.

Seed 003's ``test_periodic_checkpoint_uses_agent_lock`` and
``test_periodic_checkpoint_mutation_race_with_undo_last``: the periodic checkpoint
called ``s.save()`` without ``_agent_lock``, so a cancel or undo in progress could
be saved half-done (``active_stream_id`` cleared but the pending message kept).
Here the save encodes its snapshot first and only takes the lock to write it, and
the checkpointer does not take the lock at all.
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore, Session, _encode, _index_entry, _validated

from ._base import factory_of

BREAKS = ("CK-07",)


class UnlockedCheckpointer(Checkpointer):
    def _checkpoint_if_active(self) -> None:
        # BUG: no self._lock around the activity check and the save.
        if self._stopping.is_set():
            return
        with self._activity_lock:
            activity = self._activity
        if activity == self._saved_activity:
            return
        self._session.save(skip_index=True)
        self._saved_activity = activity
        self._saves += 1


class SnapshotOutsideLockStore(CheckpointStore):
    def _save(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        sid = session.session_id
        previous = session.updated_at
        updated_at = self._next_updated_at(previous) if touch_updated_at else previous
        record = _validated(session._record(updated_at))
        data = _encode(record)  # BUG: the fields are serialised before the lock is taken
        with self.lock_for(sid):
            self._write(self._session_path(sid), data)
            session.updated_at = updated_at
            if not skip_index:
                self._put_index_entry(_index_entry(record))

    def start_checkpointer(self, session: Any, *, interval: float) -> Checkpointer:
        return UnlockedCheckpointer(session, self.lock_for(session.session_id), interval)


provider = Provider("mutant-snapshot-outside-lock", checkpoint_store=factory_of(SnapshotOutsideLockStore))
