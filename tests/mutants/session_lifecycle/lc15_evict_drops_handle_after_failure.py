"""LC-15 mutant: a failed eviction leaves the session without its handle, so the retry finds no owner.

Seed: ``test_evict_session_agent_commits_before_dropping``.  The eviction
popped the session's entry from the pending-agent registry -- where the
owner of its dirty work was looked up -- before committing, and did not put
it back when the commit failed.  The agent stays open and the work dirty,
but a later commit without an agent has nobody to call, and new turns have
no handle.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        with self._cond:
            state = self._sessions.get(sid) if sid else None
            handle = state.handle if state is not None else None
        closed = super().evict_session(sid, agent)
        if not closed and state is not None:
            with self._cond:
                # BUG: the popped registry entry is not restored after the failure.
                state.handle = None
                for segment in state.segments:
                    if segment.owner is handle or segment.owner is agent:
                        segment.owner = None
        return closed


BREAKS = ("LC-15",)
provider = Provider(
    "mutant-evict-drops-handle-after-failure", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
