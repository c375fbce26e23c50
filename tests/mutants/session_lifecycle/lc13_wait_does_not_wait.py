"""LC-13 mutant: ``wait=True`` does not wait for the commit in flight.

Seed: ``test_lru_eviction_commits_outside_cache_lock`` (boundary commits pass
``wait=True`` so that work completed during a running commit is flushed).
The flag was dropped on the way down, so the waiting caller got ``False`` at
once and the newer turn stayed dirty.

(Killed deterministically: the kit starts the waiting commit while the first
one is held and waits until it has parked or returned before releasing.)
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def commit_session_memory(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        return super().commit_session_memory(sid, agent, wait=False, timeout=timeout)  # BUG: never waits


BREAKS = ("LC-13",)
provider = Provider("mutant-wait-does-not-wait", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
