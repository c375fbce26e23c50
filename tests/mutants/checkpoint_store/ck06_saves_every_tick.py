"""Mutant: the checkpointer saves on every tick, activity or not.

The checkpoint-race incident's ``test_checkpoint_does_not_fire_without_activity``:
the checkpoint was meant to be keyed off an activity counter; saving on every tick
rewrites (and fsyncs) an idle session forever.
"""

import threading

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore, Session

from ._base import factory_of

BREAKS = ("CK-06",)


class EveryTickCheckpointer(Checkpointer):
    def needs_checkpoint(self, activity: int, saved_activity: int) -> bool:
        return True  # BUG: saved whether or not there was activity


class EveryTickStore(CheckpointStore):
    def new_checkpointer(self, session: Session, lock: threading.RLock, interval: float) -> Checkpointer:
        return EveryTickCheckpointer(session, lock, interval)


provider = Provider("mutant-saves-every-tick", checkpoint_store=factory_of(EveryTickStore))
