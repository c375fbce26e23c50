"""LC-14 mutant: the provider is called while the coordinator's lock is held.

Seed: ``test_lru_eviction_commits_outside_cache_lock`` and
``test_clear_session_evicts_outside_session_lock``.  The commit ran the slow
provider I/O inside the critical section, so every other call — other
sessions, and marking turns of the same one — waited for it.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Claim, _Outcome


class Broken(SessionLifecycle):
    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        with self._cond:
            ok = False
            try:
                claim.owner.commit_memory_session()  # BUG: provider I/O under the lock
                ok = True
            except Exception:
                pass
            claim.state.in_flight = False
            if ok:
                claim.state.committed = claim.high
                while claim.state.segments and claim.state.segments[0].high <= claim.high:
                    claim.state.segments.popleft()
            self._cond.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED


BREAKS = ("LC-14",)
provider = Provider("mutant-provider-io-under-lock", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
