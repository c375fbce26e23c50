"""LC-15 mutant: eviction closes the agent twice.

Seed: ``test_evict_session_agent_waits_for_inflight_commit_before_closing_db``
(``db.close_calls == 1``).  Both the eviction path and the cache cleanup
closed the agent.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        closed = super().evict_session(sid, agent)
        if closed:
            agent.close()  # BUG: the cache cleanup closes it again
        return closed


BREAKS = ("LC-15",)
provider = Provider("mutant-evict-closes-twice", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
