"""LC-09 mutant: commits flush the newest segment first.

Seed: ``test_explicit_new_agent_commit_cannot_clear_old_dirty_segment``.  The
coordinator kept the owners in a stack and committed the most recent
registration's work first, leaving the old segment behind newer ones.

The LC-07 test that commits an adopted segment and then its owner's next
one sees them in the wrong order too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, Segment, SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def select_segment(self, state: SessionState, agent: MemoryAgent | None) -> Segment | None:
        if not state.segments:
            return None
        newest = state.segments[-1]  # BUG: newest first
        if newest.owner is None:
            newest.owner = agent
        return newest

    def settle_commit(self, state: SessionState, high: int, succeeded: bool) -> None:
        if succeeded:
            # The stack pops the flushed segment; the session is clean once it is empty.
            for segment in [s for s in state.segments if s.high == high]:
                state.segments.remove(segment)
            if not state.segments:
                state.committed = state.generation


BREAKS = ("LC-09", "LC-07")
provider = Provider("mutant-newest-segment-first", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
