"""LC-11 mutant: the shutdown drain skips sessions whose commit is still in flight.

Seed: ``test_shutdown_drain_waits_for_inflight_commit_and_flushes_new_generation``.
The drain flushed every *idle* dirty session and left the busy ones to the
commit already running, so the turn completed during that commit was never
flushed before shutdown.

(Killed deterministically: the kit starts the drain while the commit is held,
waits until the drain has either parked or returned, and only then releases
the commit; this drain returns instead of parking.)
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle, SessionState


class Broken(SessionLifecycle):
    def drainable(self, state: SessionState) -> bool:
        # BUG: not waited for, so the newer turn is never flushed.
        return not state.in_flight and super().drainable(state)


BREAKS = ("LC-11",)
provider = Provider("mutant-drain-skips-in-flight", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
