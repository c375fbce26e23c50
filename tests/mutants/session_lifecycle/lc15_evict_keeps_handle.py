"""LC-15 mutant: eviction closes the agent but leaves its handle registered.

Seed: ``test_evict_session_agent_commits_before_dropping`` (a later turn
without an agent must not be committable).  The evicted, closed agent stayed
the session's handle and was called again for the next turn.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle, _Outcome


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        if not sid:
            return False
        while True:
            outcome = self._commit(sid, agent, wait=True, end=None)
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.SKIPPED:
                with self._cond:
                    state = self._sessions.get(sid)
                    if state is None or not (state.in_flight or state.segments):
                        break  # BUG: the handle is not dropped
        agent.close()
        return True


BREAKS = ("LC-15",)
provider = Provider("mutant-evict-keeps-handle", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
