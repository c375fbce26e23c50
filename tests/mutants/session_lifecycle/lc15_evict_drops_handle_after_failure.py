"""LC-15 mutant: a failed eviction leaves the session without its handle.

Seed: ``test_evict_session_agent_commits_before_dropping``.  The eviction
popped the session's entry from the pending-agent registry before
committing, and did not put it back when the commit failed.  The agent stays
open and the work dirty with its owner, but the session has no handle any
more: a new turn is un-owned, and a commit without an agent cannot flush it.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        closed = super().evict_session(sid, agent)
        if not closed:
            self.unregister_agent(sid)  # BUG: the popped registry entry is not restored
        return closed


BREAKS = ("LC-15",)
provider = Provider(
    "mutant-evict-drops-handle-after-failure", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
