"""LC-02 mutant: a registered session with no completed turn is committed anyway.

Seed: ``test_registered_session_without_completed_turn_is_not_committed``.
The commit looked up the registered agent and called it whenever one was
registered, without checking that any turn had completed.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, _Claim, _Session


class Broken(SessionLifecycle):
    def _claim(self, state: _Session, agent: MemoryAgent | None) -> _Claim | None:
        if not state.in_flight and not state.segments and state.handle is not None:
            # BUG: nothing is dirty, but a handle is registered: commit it anyway.
            state.in_flight = True
            return _Claim(state, state.handle, state.generation)
        return super()._claim(state, agent)


BREAKS = ("LC-02",)
provider = Provider("mutant-registered-only-commits", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
