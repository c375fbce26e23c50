"""LC-11 mutant: the shutdown drain gives up at the first commit that fails.

Seed: ``test_shutdown_drain_waits_for_inflight_commit_and_flushes_new_generation``
(the drain flushes every dirty session).  The drain walked the dirty
sessions one by one on a helper thread and stopped as soon as one commit
raised, "to let shutdown proceed" -- although its deadline was far away, so
every session after the failing one was left dirty at shutdown.
"""

from __future__ import annotations

import threading

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Outcome


class Broken(SessionLifecycle):
    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        end = self._clock() + deadline
        done = threading.Event()

        def walk() -> None:
            try:
                with self._cond:
                    sids = [sid for sid, state in self._sessions.items() if self._drainable(state)]
                for sid in sids:
                    while self._clock() < end:
                        outcome = self._commit(sid, None, wait=True, end=end)
                        if outcome is _Outcome.FAILED:
                            return  # BUG: the sessions after this one are never flushed
                        if outcome is _Outcome.SKIPPED:
                            break
            finally:
                done.set()

        threading.Thread(target=walk, name="session-lifecycle-drain", daemon=True).start()
        done.wait(max(0.0, end - self._clock()))


BREAKS = ("LC-11",)
provider = Provider(
    "mutant-drain-stops-at-first-failure", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
