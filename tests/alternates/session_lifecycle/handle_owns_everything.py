"""A coordinator where the registered handle is who commits, as in the production coordinator.

Written from the contract (§1a), not from the reference: every dirty turn is
kept on its own, with its owner, in generation order, and a segment is
simply the run of oldest turns that share one owner.  The session's handle
is what the production coordinator calls "the pending agent"; this
coordinator leans on it wherever the contract lets it:

- **A commit without an agent uses the handle for un-owned work**
  (LC/unowned-commit ``handle``): turns completed before any agent was
  known are flushed by whoever is registered when the commit (or the
  shutdown drain) comes, and from then on belong to it -- as if it had been
  passed explicitly.
- **An agent passed with a turn becomes the handle** (LC/turn-agent
  ``becomes-handle``): the agent that completed a turn handles the next
  turns too, until another registration.
- **An eviction that ends clean forgets the session** (LC/evict-forgets
  ``forgets``): it commits, unregisters, and drops the session's entry as
  ``discard_session`` would, so the next turn of that id starts a new
  session whose generations count from 1 (LC/forgotten-generations
  ``restart``).

The shutdown drain walks the dirty sessions one after the other on a helper
thread, while the caller waits at most ``deadline`` for it; a session whose
commit fails is left for a later commit.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import deque
from typing import Any

from pytest_lifecycle import Provider

CHOICES = {
    "LC/unowned-commit": "handle",
    "LC/turn-agent": "becomes-handle",
    "LC/evict-forgets": "forgets",
    "LC/forgotten-generations": "restart",
}


class _Outcome(enum.Enum):
    NOTHING = enum.auto()  # nobody was called
    COMMITTED = enum.auto()
    FAILED = enum.auto()


class _Turn:
    """One completed, uncommitted turn: its generation and who commits it (``None``: nobody yet)."""

    __slots__ = ("generation", "owner")

    def __init__(self, generation: int, owner: Any) -> None:
        self.generation = generation
        self.owner = owner


class _Entry:
    __slots__ = ("committing", "dirty", "generation", "handle")

    def __init__(self) -> None:
        self.handle: Any = None
        self.generation = 0
        #: Uncommitted turns, oldest first.
        self.dirty: deque[_Turn] = deque()
        self.committing = False


class HandleCoordinator:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._entries: dict[str, _Entry] = {}

    def register_agent(self, sid: str | None, agent: Any) -> None:
        if sid:
            with self._cond:
                self._entries.setdefault(sid, _Entry()).handle = agent

    def unregister_agent(self, sid: str | None) -> None:
        if sid:
            with self._cond:
                entry = self._entries.get(sid)
                if entry is not None:
                    entry.handle = None

    def mark_turn_completed(self, sid: str | None, *, agent: Any = None) -> int:
        if not sid:
            return 0
        with self._cond:
            entry = self._entries.setdefault(sid, _Entry())
            if agent is not None:
                entry.handle = agent
            entry.generation += 1
            entry.dirty.append(_Turn(entry.generation, entry.handle))
            return entry.generation

    def has_uncommitted_work(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._cond:
            entry = self._entries.get(sid)
            return entry is not None and bool(entry.dirty)

    def commit_session_memory(
        self, sid: str | None, agent: Any = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        if not sid:
            return False
        return self._commit(sid, agent, wait=wait, timeout=timeout) is _Outcome.COMMITTED

    def _commit(self, sid: str, agent: Any, *, wait: bool, timeout: float | None) -> _Outcome:
        end = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            entry = self._entries.get(sid)
            while entry is not None and entry.committing:
                remaining = None if end is None else end - time.monotonic()
                if not wait or (remaining is not None and remaining <= 0):
                    return _Outcome.NOTHING
                self._cond.wait(remaining)
                entry = self._entries.get(sid)
            if entry is None or not entry.dirty:
                return _Outcome.NOTHING
            owner = entry.dirty[0].owner
            if owner is None:
                owner = agent if agent is not None else entry.handle
                if owner is None:
                    return _Outcome.NOTHING
                for turn in entry.dirty:  # the oldest un-owned turns become the committer's
                    if turn.owner is not None:
                        break
                    turn.owner = owner
            upto = 0
            for turn in entry.dirty:
                if turn.owner is not owner:
                    break
                upto = turn.generation
            entry.committing = True
        ok = False
        try:
            owner.commit_memory_session()
            ok = True
        except Exception:
            pass  # the turns stay dirty with their owner; a later commit retries
        finally:
            with self._cond:
                entry.committing = False
                if ok:
                    while entry.dirty and entry.dirty[0].generation <= upto:
                        entry.dirty.popleft()
                self._cond.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        end = time.monotonic() + deadline
        done = threading.Event()

        def flush() -> None:
            try:
                with self._cond:
                    sids = [sid for sid, entry in self._entries.items() if entry.dirty or entry.committing]
                for sid in sids:
                    while (remaining := end - time.monotonic()) > 0:
                        if self._commit(sid, None, wait=True, timeout=remaining) is not _Outcome.COMMITTED:
                            break  # clean, nobody to call, or failed: the next session
            finally:
                done.set()

        threading.Thread(target=flush, name="alt-drain", daemon=True).start()
        done.wait(max(0.0, end - time.monotonic()))

    def discard_session(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._cond:
            entry = self._entries.get(sid)
            if entry is not None and (entry.dirty or entry.committing):
                return False
            self._entries.pop(sid, None)
            return True

    def evict_session(self, sid: str | None, agent: Any) -> bool:
        if not sid:
            return False
        while True:
            outcome = self._commit(sid, agent, wait=True, timeout=None)
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.NOTHING:
                with self._cond:
                    entry = self._entries.get(sid)
                    if entry is None or not (entry.dirty or entry.committing):
                        self._entries.pop(sid, None)  # clean and idle: forget it
                        break
        agent.close()
        return True


provider = Provider(
    "alt-handle-owns-everything", session_lifecycle=lambda ctx: HandleCoordinator(), capabilities={"eviction"}
)
