"""LC-08 mutant: a replacement registration takes over the old agent's dirty segment.

Seed: ``test_dirty_failed_commit_handle_survives_replacement_registration``.
Registering a new agent overwrote the owner of the work still dirty from the
old agent, so the retry called the replacement for the old segment.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, _Session


class Broken(SessionLifecycle):
    def register_agent(self, sid: str | None, agent: MemoryAgent) -> None:
        if not sid:
            return
        with self._cond:
            state = self._sessions.setdefault(sid, _Session())
            for segment in state.segments:
                if state.handle is not None and segment.owner is state.handle:
                    segment.owner = agent  # BUG: dirty work changes owner
            state.handle = agent


BREAKS = ("LC-08",)
provider = Provider(
    "mutant-replacement-steals-segment", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
