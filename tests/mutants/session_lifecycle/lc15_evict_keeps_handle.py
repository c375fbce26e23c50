"""LC-15 mutant: eviction closes the agent but leaves it registered as the handle.

Seed: ``test_evict_session_agent_commits_before_dropping`` (a later turn
without an agent must not be committable).  The eviction committed and
closed the agent, but the session's registry entry kept pointing at it: the
evicted, closed agent owns the next turn and is called again to commit it.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        closed = super().evict_session(sid, agent)
        if closed:
            self.register_agent(sid, agent)  # BUG: the registry entry is not dropped
        return closed


BREAKS = ("LC-15",)
provider = Provider("mutant-evict-keeps-handle", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
