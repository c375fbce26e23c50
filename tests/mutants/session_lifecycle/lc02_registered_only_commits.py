"""LC-02 mutant: a registered session with no completed turn is committed anyway.

Seed: ``test_registered_session_without_completed_turn_is_not_committed``.
The commit looked up the registered agent and called it whenever one was
registered, without checking that any turn had completed.

Every test that expects a commit with nothing new to return ``False``
sees it, so their rules fail too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, Segment, SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def select_segment(self, state: SessionState, agent: MemoryAgent | None) -> Segment | None:
        if not state.segments and state.handle is not None:
            # BUG: nothing is dirty, but a handle is registered: commit it anyway.
            return Segment(state.handle, state.generation)
        return super().select_segment(state, agent)


BREAKS = ("LC-02", "LC-04", "LC-05", "LC-06", "LC-11", "LC-14", "LC-15")
provider = Provider("mutant-registered-only-commits", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
