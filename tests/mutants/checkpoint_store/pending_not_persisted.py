"""Mutant: the pending fields are not written to disk.

Seed 003's ``test_pending_message_survives_simulated_restart`` (Issue #765): the
user's message stored in ``pending_user_message`` before the run must survive a
restart; a record without the pending fields silently loses it.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore, Session, _encode, _index_entry, _validated

from ._base import factory_of

BREAKS = ("CK-01", "CK-08")

_NOT_PERSISTED = {"pending_user_message": None, "pending_started_at": None, "active_stream_id": None}


class ForgetfulStore(CheckpointStore):
    def _save(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        sid = session.session_id
        with self.lock_for(sid):
            previous = session.updated_at
            updated_at = self._next_updated_at(previous) if touch_updated_at else previous
            record = _validated({**session._record(updated_at), **_NOT_PERSISTED})  # BUG
            self._write(self._session_path(sid), _encode(record))
            session.updated_at = updated_at
            if not skip_index:
                self._put_index_entry(_index_entry(record))


provider = Provider("mutant-pending-not-persisted", checkpoint_store=factory_of(ForgetfulStore))
