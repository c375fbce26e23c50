"""Mutant: ``save(touch_updated_at=False)`` still moves ``updated_at``.

The checkpoint-race incident's ``test_skip_index_save_with_touch_updated_at_false``:
a save that must keep the session's place in the sidebar bumps it to the top instead.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-03",)


class TouchIgnoredStore(CheckpointStore):
    def save_session(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        super().save_session(session, skip_index=skip_index, touch_updated_at=True)  # BUG: flag dropped


provider = Provider("mutant-touch-ignored", checkpoint_store=factory_of(TouchIgnoredStore))
