"""LC-06 mutant: a failed commit still marks the work as committed.

Seed: ``test_failed_commit_preserves_uncommitted_work_and_agent_handle``.  The
dirty flag was cleared before the provider call and not restored when the
call raised, so the retry found nothing to commit and the work was lost.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Claim, _Outcome


class Broken(SessionLifecycle):
    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        ok = False
        try:
            claim.owner.commit_memory_session()
            ok = True
        except Exception:
            pass
        finally:
            with self._cond:
                claim.state.in_flight = False
                # BUG: settled as committed whether or not the call succeeded.
                claim.state.committed = claim.high
                while claim.state.segments and claim.state.segments[0].high <= claim.high:
                    claim.state.segments.popleft()
                self._cond.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED


BREAKS = ("LC-06",)
provider = Provider(
    "mutant-failed-commit-clears-work", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
