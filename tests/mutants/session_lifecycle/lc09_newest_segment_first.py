"""LC-09 mutant: commits flush the newest segment first.

Seed: ``test_explicit_new_agent_commit_cannot_clear_old_dirty_segment``.  The
coordinator kept the owners in a stack and committed the most recent
registration's work first, leaving the old segment behind newer ones.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, _Claim, _Outcome, _Session


class Broken(SessionLifecycle):
    def _claim(self, state: _Session, agent: MemoryAgent | None) -> _Claim | None:
        if state.in_flight or not state.segments:
            return None
        newest = state.segments[-1]  # BUG: newest first
        if newest.owner is None:
            if agent is None:
                return None
            newest.owner = agent
        state.in_flight = True
        return _Claim(state, newest.owner, newest.high)

    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        ok = False
        try:
            claim.owner.commit_memory_session()
            ok = True
        except Exception:
            pass
        finally:
            with self._cond:
                state = claim.state
                state.in_flight = False
                if ok:
                    for segment in list(state.segments):
                        if segment.high == claim.high:
                            state.segments.remove(segment)
                    if not state.segments:
                        state.committed = claim.high
                self._cond.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED

    def has_uncommitted_work(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._cond:
            state = self._sessions.get(sid)
            return state is not None and bool(state.segments)


BREAKS = ("LC-09",)
provider = Provider("mutant-newest-segment-first", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
