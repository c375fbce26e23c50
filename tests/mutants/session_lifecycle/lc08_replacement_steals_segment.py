"""LC-08 mutant: a replacement registration takes over the old agent's dirty segment.

Seed: ``test_dirty_failed_commit_handle_survives_replacement_registration``.
Registering a new agent overwrote the owner of the work still dirty from the
old agent, so the retry called the replacement for the old segment.

The LC-09 and LC-11 tests that register a second agent over dirty work
see the wrong owner called too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def set_handle(self, state: SessionState, agent: MemoryAgent | None) -> None:
        if agent is not None and state.handle is not None:
            for segment in state.segments:
                if segment.owner is state.handle:
                    segment.owner = agent  # BUG: dirty work changes owner
        super().set_handle(state, agent)


BREAKS = ("LC-08", "LC-09", "LC-11")
provider = Provider(
    "mutant-replacement-steals-segment", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
