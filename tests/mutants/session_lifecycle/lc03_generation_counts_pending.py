"""LC-03 mutant: ``mark_turn_completed`` returns the number of pending turns, not a generation.

The returned value restarts at 1 after every commit, so generations of one
session are no longer strictly increasing (the seed's coordinator handed the
dirty count back to callers that used it as a generation).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def __init__(self) -> None:
        super().__init__()
        self.pending: dict[str, int] = {}

    def mark_turn_completed(self, sid: str | None, *, agent: MemoryAgent | None = None) -> int:
        generation = super().mark_turn_completed(sid, agent=agent)
        if not sid:
            return generation
        self.pending[sid] = self.pending.get(sid, 0) + 1
        return self.pending[sid]  # BUG: pending turns since the last commit, not the generation

    def commit_session_memory(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        committed = super().commit_session_memory(sid, agent, wait=wait, timeout=timeout)
        if committed and sid:
            self.pending[sid] = 0
        return committed

    def discard_session(self, sid: str | None) -> bool:
        discarded = super().discard_session(sid)
        if discarded and sid:
            self.pending.pop(sid, None)
        return discarded


BREAKS = ("LC-03",)
provider = Provider(
    "mutant-generation-counts-pending", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
