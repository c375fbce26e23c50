"""LC-05 SHOULD mutant: turns completed while a commit is in flight form one segment each.

Seed: ``test_commit_finishing_late_does_not_clear_newly_completed_turn``.  To
stay clear of the segment being committed, the coordinator never extends a
segment while a commit of its session is in flight: every turn completed
meanwhile opens a segment of its own.  Nothing is lost or committed twice --
each turn is flushed once, by its owner, and the session stays dirty until
the last one is -- but the next commit flushes only the first of them, and
each of the others costs one more provider call (a SHOULD of LC-04 and LC-05,
not a MUST).
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle, SessionState


class Split(SessionLifecycle):
    def joins_newest_segment(self, state: SessionState, owner: MemoryAgent | None) -> bool:
        # BUG (SHOULD only): in flight, every turn opens its own segment.
        return not state.in_flight and super().joins_newest_segment(state, owner)


NON_STRICT = ("LC-04", "LC-05")
provider = Provider("mutant-in-flight-turns-split", session_lifecycle=lambda ctx: Split(), capabilities={"eviction"})
