"""LC-16 mutant: ``discard_session`` forgets a session that still has dirty work.

Seed: the clear-session route (``test_clear_session_evicts_outside_session_lock``)
dropped the session's lifecycle state without checking for uncommitted turns;
only a commit in flight was refused.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def can_discard(self, state: SessionState) -> bool:
        return not state.in_flight  # BUG: dirty work is not refused


BREAKS = ("LC-16",)
provider = Provider("mutant-discard-dirty-allowed", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
