"""LC-15 mutant: eviction does not wait for an in-flight commit before closing.

Seed: ``test_evict_session_agent_waits_for_inflight_commit_before_closing_db``.
Eviction committed with ``wait=False``: finding a commit in flight, it
unregistered and closed the agent at once — under the running commit — and
the turn completed meanwhile was never flushed.

(Killed deterministically: the kit starts the eviction while the commit is
held and waits until it has parked or returned before releasing; this
eviction returns, having closed the agent.)
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle, _Outcome


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        if not sid:
            return False
        while True:
            outcome = self._commit(sid, agent, wait=False, end=None)  # BUG: does not wait
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.SKIPPED:
                break
        with self._cond:
            state = self._sessions.get(sid)
            if state is not None:
                state.handle = None
        agent.close()
        return True


BREAKS = ("LC-15",)
provider = Provider("mutant-evict-does-not-wait", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
