"""Mutant: ``stop()`` joins the checkpoint thread for one interval only and returns while it still runs.

A bounded join looks safe, but a checkpoint still writing when the join gives up
lands after ``stop()`` returned -- after, and over, the caller's final save (CK-09).
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore

from ._base import factory_of

BREAKS = ("CK-09",)


class ImpatientCheckpointer(Checkpointer):
    def stop(self) -> int:
        self._stopping.set()
        self._thread.join(self._interval)  # BUG: returns with the thread (and its save) still running
        return self._saves


class ImpatientStore(CheckpointStore):
    def start_checkpointer(self, session: Any, *, interval: float) -> Checkpointer:
        return ImpatientCheckpointer(session, self.lock_for(session.session_id), interval)


provider = Provider("mutant-stop-join-times-out", checkpoint_store=factory_of(ImpatientStore))
