"""Mutant: ``stop()`` signals the checkpoint thread but does not join it.

Seed 003's ``test_success_path_joins_checkpoint_before_session_mutation``: the
success path must stop *and join* the checkpoint thread before its final save;
otherwise a checkpoint still in flight lands after the final save and overwrites it.
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore

from ._base import factory_of

BREAKS = ("CK-09",)


class UnjoinedCheckpointer(Checkpointer):
    def stop(self) -> int:
        self._stopping.set()  # BUG: no self._thread.join()
        return self._saves


class StopWithoutJoinStore(CheckpointStore):
    def start_checkpointer(self, session: Any, *, interval: float) -> Checkpointer:
        return UnjoinedCheckpointer(session, self.lock_for(session.session_id), interval)


provider = Provider("mutant-stop-without-join", checkpoint_store=factory_of(StopWithoutJoinStore))
