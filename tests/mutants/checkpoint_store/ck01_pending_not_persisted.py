"""Mutant: the pending fields are not written to disk.

The checkpoint-race incident's ``test_pending_message_survives_simulated_restart``
(Issue #765): the user's message stored in ``pending_user_message`` before the run
must survive a restart; a record without the pending fields silently loses it
(CK-01, CK-08), also in the image a crash leaves (CK-05).
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-01", "CK-08", "CK-05")

_NOT_PERSISTED = {"pending_user_message": None, "pending_started_at": None, "active_stream_id": None}


class ForgetfulStore(CheckpointStore):
    def session_record(self, session: Session, updated_at: float) -> dict[str, Any]:
        return super().session_record(session, updated_at) | _NOT_PERSISTED  # BUG: the pending fields are dropped


provider = Provider("mutant-pending-not-persisted", checkpoint_store=factory_of(ForgetfulStore))
