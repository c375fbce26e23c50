"""LC-15 mutant: eviction closes the agent before committing its pending work.

Seed: ``test_evict_session_agent_commits_before_dropping``.  The cached agent
was closed (its DB handle released) first and the lifecycle commit attempted
afterwards, with a closed agent.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import ClosableAgent, SessionLifecycle


class _Closed:
    """The agent after its early close: commits still reach it, closing again does nothing."""

    def __init__(self, agent: ClosableAgent) -> None:
        self.agent = agent

    def commit_memory_session(self) -> object:
        return self.agent.commit_memory_session()

    def close(self) -> None:
        pass


class Broken(SessionLifecycle):
    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        if not sid:
            return False
        agent.close()  # BUG: closed before the commit
        return super().evict_session(sid, _Closed(agent))


BREAKS = ("LC-15",)
provider = Provider(
    "mutant-evict-closes-before-commit", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
