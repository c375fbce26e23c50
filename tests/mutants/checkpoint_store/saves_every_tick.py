"""Mutant: the checkpointer saves on every tick, activity or not.

Seed 003's ``test_checkpoint_does_not_fire_without_activity``: the checkpoint was
meant to be keyed off an activity counter; saving on every tick rewrites (and
fsyncs) an idle session forever.
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import _LOCK_POLL_SECONDS, Checkpointer, CheckpointStore

from ._base import factory_of

BREAKS = ("CK-06",)


class EveryTickCheckpointer(Checkpointer):
    def _checkpoint_if_active(self) -> None:
        while not self._lock.acquire(timeout=min(self._interval, _LOCK_POLL_SECONDS)):
            if self._stopping.is_set():
                return
        try:
            if self._stopping.is_set():
                return
            self._session.save(skip_index=True)  # BUG: saved whether or not there was activity
            self._saves += 1
        finally:
            self._lock.release()


class EveryTickStore(CheckpointStore):
    def start_checkpointer(self, session: Any, *, interval: float) -> Checkpointer:
        return EveryTickCheckpointer(session, self.lock_for(session.session_id), interval)


provider = Provider("mutant-saves-every-tick", checkpoint_store=factory_of(EveryTickStore))
