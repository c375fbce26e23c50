"""LC-07 mutant: an explicit agent passed to a failed commit of un-owned work is not remembered.

Seed: ``test_failed_explicit_agent_commit_preserves_agent_handle_for_retry``.
The explicit agent was used for the call only; after the failure the work is
un-owned again and the retry without an agent cannot commit it.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, Segment, SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def select_segment(self, state: SessionState, agent: MemoryAgent | None) -> Segment | None:
        if state.segments and state.segments[0].owner is None and agent is not None:
            return Segment(agent, state.segments[0].high)  # BUG: called, but never adopted
        return super().select_segment(state, agent)


BREAKS = ("LC-07",)
provider = Provider(
    "mutant-failed-adoption-forgotten", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
