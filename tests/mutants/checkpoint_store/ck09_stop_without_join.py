"""Mutant: ``stop()`` signals the checkpoint thread but does not join it.

The checkpoint-race incident's ``test_success_path_joins_checkpoint_before_session_mutation``:
the success path must stop *and join* the checkpoint thread before its final save;
otherwise a checkpoint still in flight lands after the final save and overwrites it
(CK-09) -- and with it what the final save wrote (CK-01), and a save after stop()
returned (CK-06).
"""

import threading

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-09", "CK-06")


class UnjoinedCheckpointer(Checkpointer):
    def join_worker(self, worker: threading.Thread) -> None:
        pass  # BUG: stop() returns while a checkpoint may still be writing


class StopWithoutJoinStore(CheckpointStore):
    def new_checkpointer(self, session: Session, lock: threading.RLock, interval: float) -> Checkpointer:
        return UnjoinedCheckpointer(session, lock, interval)


provider = Provider("mutant-stop-without-join", checkpoint_store=factory_of(StopWithoutJoinStore))
