"""LC-09 mutant: an explicit agent is used instead of the oldest segment's owner.

Seed: ``test_explicit_new_agent_commit_cannot_clear_old_dirty_segment``.  The
commit preferred the agent its caller passed, so the replacement agent
flushed (and cleared) the old agent's segment.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, _Claim, _Session


class Broken(SessionLifecycle):
    def _claim(self, state: _Session, agent: MemoryAgent | None) -> _Claim | None:
        claim = super()._claim(state, agent)
        if claim is not None and agent is not None:
            return _Claim(claim.state, agent, claim.high)  # BUG: the caller's agent wins
        return claim


BREAKS = ("LC-09",)
provider = Provider(
    "mutant-explicit-agent-overrides-owner", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
