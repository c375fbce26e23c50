"""LC-01 mutant: an empty-string session id is tracked like a real session.

Seed: ``test_empty_session_id_is_safe_noop``.  The guard was written as
``if sid is None`` instead of ``if not sid``, so ``mark_turn_completed("")``
counts a turn and returns generation 1 instead of the no-op ``0``.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, _Segment, _Session


class Broken(SessionLifecycle):
    def mark_turn_completed(self, sid: str | None, *, agent: MemoryAgent | None = None) -> int:
        if sid is None:  # BUG: "" is falsy too
            return 0
        with self._cond:
            state = self._sessions.setdefault(sid, _Session())
            owner = agent if agent is not None else state.handle
            state.generation += 1
            if state.segments and state.segments[-1].owner is owner:
                state.segments[-1].high = state.generation
            else:
                state.segments.append(_Segment(owner, state.generation))
            return state.generation


BREAKS = ("LC-01",)
provider = Provider("mutant-empty-id-tracked", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
