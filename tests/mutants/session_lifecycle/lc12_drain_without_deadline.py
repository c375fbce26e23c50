"""LC-12 mutant: the shutdown drain commits on the calling thread and ignores its deadline.

Seed: ``test_shutdown_drain_waits_for_inflight_commit_and_flushes_new_generation``
(the drain that waits).  Waiting was made unconditional: each dirty session
is committed in turn with ``wait=True`` and no bound, so one provider that
never returns holds shutdown forever.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle


class Broken(SessionLifecycle):
    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        progressed = True
        while progressed:
            progressed = False
            for sid in self.drain_candidates():
                # BUG: no deadline: a hung provider call is joined forever.
                progressed |= self.commit_session_memory(sid, wait=True)


BREAKS = ("LC-12",)
provider = Provider("mutant-drain-without-deadline", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
