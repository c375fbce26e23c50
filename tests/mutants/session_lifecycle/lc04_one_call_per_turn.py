"""LC-04 mutant: no coalescing — the provider is called once per completed turn.

Seed: ``test_multiple_completed_turns_coalesce_into_single_boundary_commit``.
The boundary commit replayed every completed turn into the batch-extraction
provider instead of flushing the accumulated segment in one call.  Every
test that counts the provider calls of a segment of several turns sees it,
so the rules of those tests fail too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def flush(self, sid: str, owner: MemoryAgent, generations: range) -> None:
        for _ in generations:  # BUG: one provider call per turn
            owner.commit_memory_session()


BREAKS = ("LC-04", "LC-05", "LC-06", "LC-07", "LC-11", "LC-15")
provider = Provider("mutant-one-call-per-turn", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
