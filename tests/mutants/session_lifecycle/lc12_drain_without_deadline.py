"""LC-12 mutant: the shutdown drain commits on the calling thread and ignores its deadline.

Seed: ``test_shutdown_drain_waits_for_inflight_commit_and_flushes_new_generation``
(the drain that waits).  Waiting was made unconditional: each dirty session
is committed in turn with ``wait=True`` and no bound, so one provider that
never returns holds shutdown forever.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Outcome


class Broken(SessionLifecycle):
    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        while True:
            with self._cond:
                sids = [sid for sid, state in self._sessions.items() if self._drainable(state)]
            progressed = False
            for sid in sids:
                # BUG: no deadline: a hung provider call is joined forever.
                if self._commit(sid, None, wait=True, end=None) is _Outcome.COMMITTED:
                    progressed = True
            if not progressed:
                return


BREAKS = ("LC-12",)
provider = Provider("mutant-drain-without-deadline", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
