"""LC-17 mutant: ``evict_session`` returns whether it committed something, not whether it closed.

Seeds: ``test_evict_session_agent_commits_before_dropping`` and
``test_evict_session_agent_waits_for_inflight_commit_before_closing_db``.  The
eviction was built on ``commit_session_memory`` and kept its return value
("``True`` only if a provider call succeeded"), so evicting a *clean* session
closes and unregisters the agent but reports ``False`` — and a caller that
trusts the result keeps a closed agent in its cache.  Where the session
has pending work both meanings agree; the state machine, and the LC-15 test
whose second eviction finds the work already committed, evict clean sessions.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        had_work = self.has_uncommitted_work(sid)
        closed = super().evict_session(sid, agent)
        return closed and had_work  # BUG: "did I commit", not "did I close"


BREAKS = ("LC-17", "LC-15")
provider = Provider(
    "mutant-evict-reports-commit-outcome", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
