"""LC-14 mutant: the provider is called while the agent cache's lock is held.

Seed: ``test_lru_eviction_commits_outside_cache_lock``.  The commit ran the
slow provider I/O inside the critical section of the agent cache, the lock
that dropping an agent from the cache (``unregister_agent``) takes too:
while one session's provider call is blocked, no agent of any session can
be unregistered.
"""

from __future__ import annotations

import threading

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def __init__(self) -> None:
        super().__init__()
        self.cache_lock = threading.RLock()

    def flush(self, sid: str, owner: MemoryAgent, generations: range) -> None:
        with self.cache_lock:  # BUG: provider I/O under the cache lock
            super().flush(sid, owner, generations)

    def unregister_agent(self, sid: str | None) -> None:
        with self.cache_lock:
            super().unregister_agent(sid)


BREAKS = ("LC-14",)
provider = Provider("mutant-provider-io-under-lock", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
