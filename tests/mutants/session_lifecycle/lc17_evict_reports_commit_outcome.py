"""LC-17 mutant: ``evict_session`` returns whether it committed something, not whether it closed.

Seeds: ``test_evict_session_agent_commits_before_dropping`` and
``test_evict_session_agent_waits_for_inflight_commit_before_closing_db``.  The
eviction was built on ``commit_session_memory`` and kept its return value
("``True`` only if a provider call succeeded"), so evicting a *clean* session
closes and unregisters the agent but reports ``False`` — and a caller that
trusts the result keeps a closed agent in its cache.  Every focused LC-15
test evicts a session with pending work, where both meanings agree; only the
state machine evicts clean sessions.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle, _Outcome


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        if not sid:
            return False
        committed = False
        while True:
            outcome = self._commit(sid, agent, wait=True, end=None)
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.COMMITTED:
                committed = True
                continue
            with self._cond:
                state = self._sessions.get(sid)
                if state is None or not (state.in_flight or state.segments):
                    if state is not None:
                        state.handle = None
                    break
        agent.close()
        return committed  # BUG: "did I commit", not "did I close"


BREAKS = ("LC-17",)
provider = Provider(
    "mutant-evict-reports-commit-outcome", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
