"""LC-05 mutant: a commit that finishes late clears work completed while it was in flight.

Seed: ``test_commit_finishing_late_does_not_clear_newly_completed_turn``.  On
success the commit marked the *whole* session clean (the current generation)
instead of only the generation it snapshotted when it started.
"""

from __future__ import annotations

import logging

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Claim, _Outcome

logger = logging.getLogger(__name__)


class Broken(SessionLifecycle):
    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        ok = False
        try:
            claim.owner.commit_memory_session()
            ok = True
        except Exception:
            logger.warning("commit_memory_session() failed for session %r", sid, exc_info=True)
        finally:
            with self._cond:
                claim.state.in_flight = False
                if ok:
                    # BUG: clears up to the current generation, not the snapshot.
                    claim.state.committed = claim.state.generation
                    claim.state.segments.clear()
                self._cond.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED


BREAKS = ("LC-05",)
provider = Provider(
    "mutant-late-commit-clears-newer", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
