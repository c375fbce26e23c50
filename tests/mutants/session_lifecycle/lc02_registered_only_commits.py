"""LC-02 mutant: a registered session with no completed turn is committed anyway.

Seed: ``test_registered_session_without_completed_turn_is_not_committed``.
The commit looked up the registered agent and called it whenever one was
registered, without checking that any turn had completed.  (Eviction and
the drain keep the reference's own commits: the bug is in the commit call.)

Every test that expects a commit with nothing new to return ``False`` sees
it, so the rules of those tests fail too.
"""

from __future__ import annotations

from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import MemoryAgent, SessionLifecycle


class Broken(SessionLifecycle):
    def __init__(self) -> None:
        super().__init__()
        self.registered: dict[str, MemoryAgent] = {}

    def register_agent(self, sid: str | None, agent: MemoryAgent) -> None:
        super().register_agent(sid, agent)
        if sid:
            self.registered[sid] = agent

    def unregister_agent(self, sid: str | None) -> None:
        super().unregister_agent(sid)
        self.registered.pop(sid or "", None)

    def discard_session(self, sid: str | None) -> bool:
        discarded = super().discard_session(sid)
        if discarded:
            self.registered.pop(sid or "", None)
        return discarded

    def commit_session_memory(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        handle = self.registered.get(sid or "")
        if handle is not None and not self.has_uncommitted_work(sid):
            # BUG: nothing is dirty, but a handle is registered: commit it anyway.
            handle.commit_memory_session()
            return True
        return super().commit_session_memory(sid, agent, wait=wait, timeout=timeout)


BREAKS = ("LC-02", "LC-04", "LC-05", "LC-06", "LC-14")
provider = Provider("mutant-registered-only-commits", session_lifecycle=lambda ctx: Broken(), capabilities={"eviction"})
