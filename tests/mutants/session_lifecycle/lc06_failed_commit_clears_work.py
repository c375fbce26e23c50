"""LC-06 mutant: a failed commit still marks the work as committed.

Seed: ``test_failed_commit_preserves_uncommitted_work_and_agent_handle``.  The
dirty flag was cleared before the provider call and not restored when the
call raised, so the retry found nothing to commit and the work was lost.

Every test that retries after a failed commit finds the work gone, so
their rules fail too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def settle_commit(self, state: SessionState, high: int, succeeded: bool) -> None:
        # BUG: settled as committed whether or not the call succeeded.
        super().settle_commit(state, high, succeeded=True)


BREAKS = ("LC-06", "LC-07", "LC-08", "LC-09", "LC-11", "LC-15")
provider = Provider(
    "mutant-failed-commit-clears-work", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
