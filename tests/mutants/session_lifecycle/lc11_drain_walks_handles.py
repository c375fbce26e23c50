"""LC-11 mutant: the shutdown drain only visits sessions that still have a registered agent.

Seed: ``test_shutdown_drain_includes_dirty_sessions_even_if_pending_registry_was_cleared``.
The drain iterated the pending-agent registry instead of the dirty sessions,
so a session whose handle was cleared was left dirty at shutdown.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, _Session


class Broken(SessionLifecycle):
    @staticmethod
    def _drainable(state: _Session) -> bool:
        if state.handle is None:  # BUG: no handle, not visited
            return False
        return SessionLifecycle._drainable(state)


BREAKS = ("LC-11",)
provider = Provider("mutant-drain-walks-handles", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
