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
from reference_impl.session_lifecycle import ClosableAgent, CommitOutcome, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        if not sid:
            return False
        outcome = CommitOutcome.COMMITTED
        while outcome is CommitOutcome.COMMITTED:
            outcome = self.commit_oldest(sid, agent)  # BUG: does not wait
        if outcome is CommitOutcome.FAILED:
            return False
        self.unregister_agent(sid)
        agent.close()
        return True


BREAKS = ("LC-15",)
provider = Provider("mutant-evict-does-not-wait", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
