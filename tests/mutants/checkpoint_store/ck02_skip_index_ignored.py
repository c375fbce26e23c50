"""Mutant: ``save(skip_index=True)`` rebuilds the index anyway.

The checkpoint-race incident's ``test_save_with_skip_index_skips_index_rebuild``:
checkpoints exist to save the session file *without* the index rebuild; ignoring
the flag lists half-started sessions and costs an index write per checkpoint.

CK-12 is unobservable: its test holds the index update of one save while
another saves, and finds it by a file a full save writes that a
``skip_index`` save does not -- here both write the same files.
"""

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-02",)
UNOBSERVABLE = ("CK-12",)


class SkipIndexIgnoredStore(CheckpointStore):
    def save_session(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        super().save_session(session, skip_index=False, touch_updated_at=touch_updated_at)  # BUG: flag dropped


provider = Provider("mutant-skip-index-ignored", checkpoint_store=factory_of(SkipIndexIgnoredStore))
