"""LC-13 mutant: ``wait=False`` blocks behind the commit in flight.

Seed: the LRU-eviction and clear-session tests (``commit_session_memory`` is
called from request paths that must not stall).  The flag was ignored and
every commit waited for the session's in-flight commit.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def commit_session_memory(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        return super().commit_session_memory(sid, agent, wait=True, timeout=timeout)  # BUG: always waits


BREAKS = ("LC-13",)
provider = Provider("mutant-no-wait-blocks", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
