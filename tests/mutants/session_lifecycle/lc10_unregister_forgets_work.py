"""LC-10 mutant: unregistering an agent forgets the session's dirty work.

Seed: ``test_shutdown_drain_includes_dirty_sessions_even_if_pending_registry_was_cleared``.
The dirty state lived in the same registry entry as the handle, so
``unregister_agent`` made completed work undiscoverable.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle


class Broken(SessionLifecycle):
    def unregister_agent(self, sid: str | None) -> None:
        if not sid:
            return
        with self._cond:
            state = self._sessions.get(sid)
            if state is not None and not state.in_flight:
                del self._sessions[sid]  # BUG: the dirty segments go with the handle


BREAKS = ("LC-10",)
provider = Provider("mutant-unregister-forgets-work", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
