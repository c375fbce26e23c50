"""LC-06 mutant: a failed commit drops the agent handle.

Seed: ``test_failed_commit_preserves_uncommitted_work_and_agent_handle``.  The
commit popped the agent from the pending registry before calling it and did
not put it back when the call raised: the work stays dirty, but the retry
without an agent has nobody to call.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Claim, _Outcome


class Broken(SessionLifecycle):
    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        outcome = super()._execute(sid, claim)
        if outcome is _Outcome.FAILED:
            with self._cond:
                # BUG: the popped handle is not restored after a failure.
                claim.state.handle = None
                if claim.state.segments:
                    claim.state.segments[0].owner = None
        return outcome


BREAKS = ("LC-06",)
provider = Provider(
    "mutant-failed-commit-drops-handle", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
