"""LC-06 mutant: a failed commit drops the agent handle.

Seed: ``test_failed_commit_preserves_uncommitted_work_and_agent_handle``.  The
commit popped the agent from the pending registry before calling it and did
not put it back when the call raised: the work stays dirty, but the retry
without an agent has nobody to call.

Every test that retries after a failed commit finds nobody to call, so
their rules fail too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def settle_commit(self, state: SessionState, high: int, succeeded: bool) -> None:
        super().settle_commit(state, high, succeeded)
        if not succeeded:
            # BUG: the popped handle is not restored after a failure.
            state.handle = None
            if state.segments:
                state.segments[0].owner = None


BREAKS = ("LC-06", "LC-07", "LC-08", "LC-09", "LC-11", "LC-15")
provider = Provider(
    "mutant-failed-commit-drops-handle", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
