"""LC-03 mutant: ``mark_turn_completed`` returns the number of pending turns, not a generation.

The returned value restarts at 1 after every commit, so generations of one
session are no longer strictly increasing (the seed's coordinator handed the
dirty count back to callers that used it as a generation).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def mark_turn_completed(self, sid: str | None, *, agent: MemoryAgent | None = None) -> int:
        generation = super().mark_turn_completed(sid, agent=agent)
        with self._cond:
            state = self._sessions.get(sid) if sid else None
            # BUG: pending turns since the last commit, not the generation.
            return generation if state is None else state.generation - state.committed


BREAKS = ("LC-03",)
provider = Provider(
    "mutant-generation-counts-pending", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
