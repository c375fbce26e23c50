"""LC-07 mutant: an explicit agent passed to a failed commit of un-owned work is not remembered.

Seed: ``test_failed_explicit_agent_commit_preserves_agent_handle_for_retry``.
The explicit agent was used for the call only; after the failure the work is
un-owned again and the retry without an agent cannot commit it.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, _Claim, _Session


class Broken(SessionLifecycle):
    def _claim(self, state: _Session, agent: MemoryAgent | None) -> _Claim | None:
        if state.in_flight or not state.segments:
            return None
        oldest = state.segments[0]
        owner = oldest.owner if oldest.owner is not None else agent  # BUG: never adopted
        if owner is None:
            return None
        state.in_flight = True
        return _Claim(state, owner, oldest.high)


BREAKS = ("LC-07",)
provider = Provider(
    "mutant-failed-adoption-forgotten", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"}
)
