"""Mutant: session ids go into file names unchecked.

CK-10's path traversal: ``create("../x")`` followed by ``save()`` writes
``../x.json`` next to the store's directory (and ``load("../x")`` reads there).
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import CheckpointStore

from ._base import factory_of

BREAKS = ("CK-10",)


class UncheckedIdStore(CheckpointStore):
    def check_session_id(self, session_id: Any) -> Any:
        return session_id  # BUG: any id is a file name


provider = Provider("mutant-no-id-validation", checkpoint_store=factory_of(UncheckedIdStore))
