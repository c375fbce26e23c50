"""LC-11 mutant: the shutdown drain gives up at the first commit that fails.

Seed: ``test_shutdown_drain_waits_for_inflight_commit_and_flushes_new_generation``
(the drain flushes every dirty session).  The drain walked the dirty
sessions one by one on a helper thread and stopped as soon as one commit
raised, "to let shutdown proceed" -- although its deadline was far away, so
every session after the failing one was left dirty at shutdown.
"""

from __future__ import annotations

import threading
import time

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import CommitOutcome, SessionLifecycle


class Broken(SessionLifecycle):
    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        end = time.monotonic() + deadline  # the factory's lifecycle runs on the monotonic clock
        done = threading.Event()

        def walk() -> None:
            try:
                for sid in self.drain_candidates():
                    outcome = CommitOutcome.COMMITTED
                    while outcome is CommitOutcome.COMMITTED and time.monotonic() < end:
                        outcome = self.commit_oldest(sid, wait=True, timeout=end - time.monotonic())
                    if outcome is CommitOutcome.FAILED:
                        return  # BUG: the sessions after this one are never flushed
            finally:
                done.set()

        threading.Thread(target=walk, name="session-lifecycle-drain", daemon=True).start()
        done.wait(max(0.0, end - time.monotonic()))


BREAKS = ("LC-11",)
provider = Provider(
    "mutant-drain-stops-at-first-failure", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
