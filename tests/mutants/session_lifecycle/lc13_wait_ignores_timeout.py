"""LC-13 mutant: ``wait=True`` ignores its ``timeout``.

Seed: ``test_lru_eviction_commits_outside_cache_lock`` (eviction commits with
``wait=True``).  The timeout was accepted but never passed on, so a hung
in-flight commit stalls the waiting caller forever.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def commit_session_memory(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        return super().commit_session_memory(sid, agent, wait=wait, timeout=None)  # BUG: timeout dropped


BREAKS = ("LC-13",)
provider = Provider("mutant-wait-ignores-timeout", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
