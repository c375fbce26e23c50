"""LC-10 mutant: unregistering an agent forgets the session's dirty work.

Seed: ``test_shutdown_drain_includes_dirty_sessions_even_if_pending_registry_was_cleared``.
The dirty state lived in the same registry entry as the handle, so
``unregister_agent`` made completed work undiscoverable -- also the
un-owned work an explicit agent should adopt later (LC-07), and the work a
shutdown drain should flush (LC-11).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def set_handle(self, state: SessionState, agent: MemoryAgent | None) -> None:
        super().set_handle(state, agent)
        if agent is None and not state.in_flight:
            # BUG: the dirty segments go with the handle.
            state.segments.clear()
            state.committed = state.generation


BREAKS = ("LC-10", "LC-07", "LC-11")
provider = Provider("mutant-unregister-forgets-work", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
