"""Mutant: a checkpoint waits for the writer lock without looking at stop(), and stop() gives up after 1.5s.

The production pattern: the periodic checkpoint takes the session lock around its
save, and the success path stops the checkpointer (joining it with a timeout)
*before* taking that lock.  A caller that stops it while holding the lock waits
for the join to time out -- CK-06's SHOULD.  Every MUST holds: without the lock
stop() is prompt, and a tick that gets the lock after stop() writes nothing (CK-09).
"""

import threading

from pytest_lifecycle import Provider
from reference_impl.checkpoint import Checkpointer, CheckpointStore, Session

from ._base import factory_of

NON_STRICT = ("CK-06",)

#: The join timeout of stop().
GIVE_UP_SECONDS = 1.5


class LockWaitingCheckpointer(Checkpointer):
    def wait_for_writer_lock(self, lock: threading.RLock, stopping: threading.Event) -> bool:
        lock.acquire()  # BUG (a SHOULD): waits for the lock however long its holder stops us
        return True

    def join_worker(self, worker: threading.Thread) -> None:
        worker.join(GIVE_UP_SECONDS)


class LockWaitingStore(CheckpointStore):
    def new_checkpointer(self, session: Session, lock: threading.RLock, interval: float) -> Checkpointer:
        return LockWaitingCheckpointer(session, lock, interval)


provider = Provider("mutant-stop-blocks-under-lock", checkpoint_store=factory_of(LockWaitingStore))
