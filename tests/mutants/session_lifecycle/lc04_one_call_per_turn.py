"""LC-04 mutant: no coalescing — the provider is called once per completed turn.

Seed: ``test_multiple_completed_turns_coalesce_into_single_boundary_commit``.
The boundary commit replayed every completed turn into the batch-extraction
provider instead of flushing the accumulated segment in one call.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Claim, _Outcome


class Broken(SessionLifecycle):
    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        with self._cond:
            turns = claim.high - claim.state.committed
        try:
            for _ in range(turns - 1):  # BUG: one provider call per turn
                claim.owner.commit_memory_session()
        except Exception:
            with self._cond:
                claim.state.in_flight = False
                self._cond.notify_all()
            return _Outcome.FAILED
        return super()._execute(sid, claim)


BREAKS = ("LC-04",)
provider = Provider("mutant-one-call-per-turn", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
