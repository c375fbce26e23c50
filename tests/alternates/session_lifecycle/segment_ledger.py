"""A coordinator keeping a ledger of segments, one generation counter for all sessions.

Written from the contract (§1a), not from the reference.  Each session keeps
a list of segments (owner, turns); a commit takes the oldest segment *out*
of the list while its owner is called, so turns completed meanwhile never
touch it: they start (or extend) a segment of their own.  Where it reads
the contract differently from the reference:

- **One generation counter for every session** (LC/forgotten-generations
  ``continue``): generations are unique in the coordinator, so they strictly
  increase per session whether or not the session was forgotten in between.
- **An explicit agent adopts every un-owned segment** of the session
  (LC/adoption ``every-unowned``), and an adopted segment stays a segment
  of its own even when the next one is the same agent's
  (LC/adopted-merge ``separate``).
- **A commit that fails puts its segment back in front, apart** from the
  turns completed while it was in flight (LC/failed-in-flight ``apart``):
  the retry flushes the failed turns, the commit after it the newer ones.
  (After a successful commit those newer turns are one segment: one call.)
- **The shutdown drain retries a failed session once** (LC/drain-retry
  ``retry``): every dirty session is drained on a thread of its own, and
  the caller joins them for at most ``deadline``.
"""

from __future__ import annotations

import enum
import itertools
import threading
import time
from typing import Any

from pytest_lifecycle import Provider

CHOICES = {
    "LC/forgotten-generations": "continue",
    "LC/adoption": "every-unowned",
    "LC/adopted-merge": "separate",
    "LC/failed-in-flight": "apart",
    "LC/drain-retry": "retry",
}


class _Outcome(enum.Enum):
    NOTHING = enum.auto()
    COMMITTED = enum.auto()
    FAILED = enum.auto()


class _Segment:
    __slots__ = ("owner", "turns")

    def __init__(self, owner: Any, turns: int = 1) -> None:
        self.owner = owner
        self.turns = turns


class _Session:
    __slots__ = ("handle", "in_flight", "ledger")

    def __init__(self) -> None:
        self.handle: Any = None
        #: Segments not being committed, oldest first.
        self.ledger: list[_Segment] = []
        #: The segment a commit has taken out of the ledger, while its owner is called.
        self.in_flight: _Segment | None = None


class LedgerCoordinator:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settled = threading.Condition(self._lock)
        self._sessions: dict[str, _Session] = {}
        self._generations = itertools.count(1)

    def register_agent(self, sid: str | None, agent: Any) -> None:
        if sid:
            with self._lock:
                self._sessions.setdefault(sid, _Session()).handle = agent

    def unregister_agent(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                session = self._sessions.get(sid)
                if session is not None:
                    session.handle = None

    def mark_turn_completed(self, sid: str | None, *, agent: Any = None) -> int:
        if not sid:
            return 0
        with self._lock:
            session = self._sessions.setdefault(sid, _Session())
            owner = agent if agent is not None else session.handle
            if session.ledger and session.ledger[-1].owner is owner:
                session.ledger[-1].turns += 1
            else:
                session.ledger.append(_Segment(owner))
            return next(self._generations)

    def has_uncommitted_work(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            session = self._sessions.get(sid)
            return session is not None and (session.in_flight is not None or bool(session.ledger))

    def commit_session_memory(
        self, sid: str | None, agent: Any = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        if not sid:
            return False
        return self._commit(sid, agent, wait, timeout) is _Outcome.COMMITTED

    def _commit(self, sid: str, agent: Any, wait: bool, timeout: float | None) -> _Outcome:
        end = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            session = self._sessions.get(sid)
            while session is not None and session.in_flight is not None:
                remaining = None if end is None else end - time.monotonic()
                if not wait or (remaining is not None and remaining <= 0):
                    return _Outcome.NOTHING
                self._settled.wait(remaining)
                session = self._sessions.get(sid)
            if session is None or not session.ledger:
                return _Outcome.NOTHING
            if session.ledger[0].owner is None:
                if agent is None:
                    return _Outcome.NOTHING
                for segment in session.ledger:
                    if segment.owner is None:
                        segment.owner = agent
            segment = session.in_flight = session.ledger.pop(0)
        ok = False
        try:
            segment.owner.commit_memory_session()
            ok = True
        except Exception:
            pass
        finally:
            with self._lock:
                session.in_flight = None
                if not ok:
                    session.ledger.insert(0, segment)
                self._settled.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        end = time.monotonic() + deadline
        with self._lock:
            sids = [sid for sid, s in self._sessions.items() if s.ledger or s.in_flight is not None]
        workers = [threading.Thread(target=self._drain, args=(sid, end), daemon=True) for sid in sids]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(max(0.0, end - time.monotonic()))

    def _drain(self, sid: str, end: float) -> None:
        retried = False
        while (remaining := end - time.monotonic()) > 0:
            outcome = self._commit(sid, None, True, remaining)
            if outcome is _Outcome.FAILED and not retried:
                retried = True
            elif outcome is not _Outcome.COMMITTED:
                return

    def discard_session(self, sid: str | None) -> bool:
        if not sid:
            return False
        with self._lock:
            session = self._sessions.get(sid)
            if session is not None and (session.ledger or session.in_flight is not None):
                return False
            self._sessions.pop(sid, None)
            return True

    def evict_session(self, sid: str | None, agent: Any) -> bool:
        if not sid:
            return False
        while True:
            outcome = self._commit(sid, agent, True, None)
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.NOTHING:
                with self._lock:
                    session = self._sessions.get(sid)
                    if session is None or not (session.ledger or session.in_flight is not None):
                        if session is not None:
                            session.handle = None
                        break
        agent.close()
        return True


provider = Provider("alt-segment-ledger", session_lifecycle=lambda ctx: LedgerCoordinator(), capabilities={"eviction"})
