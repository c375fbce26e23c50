"""LC-15 mutant: eviction closes the agent even when its final commit failed.

Seed: ``test_evict_session_agent_commits_before_dropping``.  The eviction
path committed inside ``try`` and closed the cached agent in ``finally``:
when the commit raised, the agent was closed anyway -- with its work still
uncommitted, which no later commit or eviction can flush through a closed
agent.  (It still reports ``False``, so a caller sees nothing wrong.)
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        closed = super().evict_session(sid, agent)
        if sid and not closed:
            agent.close()  # BUG: "finally: agent.close()", whatever the commit did
        return closed


BREAKS = ("LC-15",)
provider = Provider(
    "mutant-evict-closes-after-failed-commit", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
