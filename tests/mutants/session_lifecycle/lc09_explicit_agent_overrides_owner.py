"""LC-09 mutant: an explicit agent is used instead of the oldest segment's owner.

Seed: ``test_explicit_new_agent_commit_cannot_clear_old_dirty_segment``.  The
commit preferred the agent its caller passed, so the replacement agent
flushed (and cleared) the old agent's segment.

The LC-07 test whose explicit agent adopts un-owned work before another
agent's segment sees that segment flushed by the wrong agent too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, Segment, SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def select_segment(self, state: SessionState, agent: MemoryAgent | None) -> Segment | None:
        segment = super().select_segment(state, agent)
        if segment is not None and agent is not None:
            return Segment(agent, segment.high)  # BUG: the caller's agent wins
        return segment


BREAKS = ("LC-09", "LC-07")
provider = Provider(
    "mutant-explicit-agent-overrides-owner", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
