"""LC-11 mutant: the shutdown drain only visits sessions that still have a registered agent.

Seed: ``test_shutdown_drain_includes_dirty_sessions_even_if_pending_registry_was_cleared``.
The drain iterated the pending-agent registry instead of the dirty sessions,
so a session whose handle was cleared was left dirty at shutdown.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def drainable(self, state: SessionState) -> bool:
        # BUG: no handle, not visited.
        return state.handle is not None and super().drainable(state)


BREAKS = ("LC-11",)
provider = Provider("mutant-drain-walks-handles", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
