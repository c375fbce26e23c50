"""Mutant: a checkpoint waits for the writer lock without looking at stop(), and stop() gives up after 1.5s.

The production pattern: the periodic checkpoint takes the session lock around its
save, and the success path stops the checkpointer (joining it with a timeout)
*before* taking that lock.  A caller that stops it while holding the lock waits
for the join to time out -- CK-06's SHOULD.  Every MUST holds: without the lock
stop() is prompt, and a tick that gets the lock after stop() writes nothing (CK-09).
"""

from typing import Any

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore

from ._base import factory_of

NON_STRICT = ("CK-06",)

#: The join timeout of stop().
GIVE_UP_SECONDS = 1.5


class LockWaitingCheckpointer(Checkpointer):
    def stop(self) -> int:
        self._stopping.set()
        self._thread.join(GIVE_UP_SECONDS)
        return self._saves

    def _checkpoint_if_active(self) -> None:
        with self._lock:  # BUG (a SHOULD): waits for the lock however long its holder stops us
            if self._stopping.is_set():
                return
            with self._activity_lock:
                activity = self._activity
            if activity == self._saved_activity:
                return
            self._session.save(skip_index=True)
            self._saved_activity = activity
            self._saves += 1


class LockWaitingStore(CheckpointStore):
    def start_checkpointer(self, session: Any, *, interval: float) -> Checkpointer:
        return LockWaitingCheckpointer(session, self.lock_for(session.session_id), interval)


provider = Provider("mutant-stop-blocks-under-lock", checkpoint_store=factory_of(LockWaitingStore))
