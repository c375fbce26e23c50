"""Mutant: ``stop()`` joins the checkpoint thread for one interval only and returns while it still runs.

A bounded join looks safe, but a checkpoint still writing when the join gives up
lands after ``stop()`` returned -- after, and over, the caller's final save (CK-09).
"""

import threading

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-09",)


class ImpatientCheckpointer(Checkpointer):
    def join_worker(self, worker: threading.Thread) -> None:
        worker.join(self.interval)  # BUG: returns with the thread (and its save) still running


class ImpatientStore(CheckpointStore):
    def new_checkpointer(self, session: Session, lock: threading.RLock, interval: float) -> Checkpointer:
        return ImpatientCheckpointer(session, lock, interval)


provider = Provider("mutant-stop-join-times-out", checkpoint_store=factory_of(ImpatientStore))
