"""LC-05 mutant: a commit that finishes late clears work completed while it was in flight.

Seed: ``test_commit_finishing_late_does_not_clear_newly_completed_turn``.  On
success the commit marked the *whole* session clean (the current generation)
instead of only the generation it snapshotted when it started.

Every test that completes a turn while a commit is in flight, or commits
several segments one by one, loses work to it, so their rules fail too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def settle_commit(self, state: SessionState, high: int, succeeded: bool) -> None:
        if succeeded:
            # BUG: clears up to the current generation, not the snapshot.
            state.committed = state.generation
            state.segments.clear()


BREAKS = ("LC-05", "LC-04", "LC-07", "LC-09", "LC-11", "LC-13", "LC-15")
provider = Provider(
    "mutant-late-commit-clears-newer", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
