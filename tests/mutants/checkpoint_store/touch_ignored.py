"""Mutant: ``save(touch_updated_at=False)`` still moves ``updated_at``.

Seed 003's ``test_skip_index_save_with_touch_updated_at_false``: a save that must
keep the session's place in the sidebar bumps it to the top instead.
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-03",)


class TouchIgnoredStore(CheckpointStore):
    def _save(self, session: Any, *, skip_index: bool, touch_updated_at: bool) -> None:
        super()._save(session, skip_index=skip_index, touch_updated_at=True)  # BUG: flag dropped


provider = Provider("mutant-touch-ignored", checkpoint_store=factory_of(TouchIgnoredStore))
