"""LC-15 mutant: eviction closes the agent before committing its pending work.

Seed: ``test_evict_session_agent_commits_before_dropping``.  The cached agent
was closed (its DB handle released) first and the lifecycle commit attempted
afterwards, with a closed agent.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle, _Outcome


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        if not sid:
            return False
        agent.close()  # BUG: closed before the commit
        while True:
            outcome = self._commit(sid, agent, wait=True, end=None)
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.SKIPPED:
                with self._cond:
                    state = self._sessions.get(sid)
                    if state is None or not (state.in_flight or state.segments):
                        if state is not None:
                            state.handle = None
                        return True


BREAKS = ("LC-15",)
provider = Provider(
    "mutant-evict-closes-before-commit", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
