"""Reference implementation of the session-memory commit lifecycle (§1a).

A coordinator deciding *when* an agent's memory is committed to a
batch-extraction memory provider. Turns complete (``mark_turn_completed``);
commits happen only at session boundaries; a commit is slow I/O that may fail
and may finish after newer work arrived.

Model (per session):

* ``generation`` counts completed turns; ``committed`` is the highest
  generation known to be flushed. Commits go oldest first and one at a time,
  so the committed generations are always the prefix ``1..committed`` and the
  session is dirty exactly when ``generation > committed``.
* The dirty generations ``committed+1..generation`` are split into *segments*:
  maximal contiguous runs with one owner, the agent registered (or passed) when
  each turn completed. Work completed with no agent at all is *un-owned*
  (owner ``None``) until an explicit agent passed to a commit adopts it.
* A commit claims the oldest segment, snapshots its high generation, calls its
  owner outside the lock and, on success, advances ``committed`` to the
  snapshot only -- never further.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["ClosableAgent", "MemoryAgent", "SessionLifecycle", "factory"]

logger = logging.getLogger(__name__)

#: Upper bound on drain helper threads, so shutdown with thousands of dirty
#: sessions does not spawn thousands of threads, while one hung provider still
#: cannot serialize every other session behind it.
_DRAIN_WORKERS = 8


class MemoryAgent(Protocol):
    """What the coordinator calls out to: may block, may raise."""

    def commit_memory_session(self) -> object: ...


class ClosableAgent(MemoryAgent, Protocol):
    """An agent that can be evicted (LC-15)."""

    def close(self) -> object: ...


@dataclass(slots=True)
class _Segment:
    owner: MemoryAgent | None  # None: un-owned until a commit adopts it (LC-07)
    high: int  # highest generation in the run; its low end follows the previous one


@dataclass(slots=True)
class _Session:
    generation: int = 0
    committed: int = 0
    handle: MemoryAgent | None = None  # owner of *future* work only (LC-08)
    in_flight: bool = False
    segments: deque[_Segment] = field(default_factory=deque)


@dataclass(frozen=True, slots=True)
class _Claim:
    """One segment taken for a provider call: who to call, and up to where."""

    state: _Session
    owner: MemoryAgent
    high: int


class _Outcome(enum.Enum):
    SKIPPED = enum.auto()  # no provider call was made
    COMMITTED = enum.auto()
    FAILED = enum.auto()


@dataclass(slots=True)
class _DrainRound:
    queue: deque[str]
    outstanding: int
    failed: set[str]


class SessionLifecycle:
    """Thread-safe, in-memory coordinator; one instance per kit test.

    A single condition guards all state and is notified whenever a commit
    settles. It is never held across a provider call (LC-14), so other
    sessions -- and ``mark_turn_completed``/``has_uncommitted_work`` for the
    committing session -- never wait on provider I/O.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        # Deadlines are measured on `clock`; waiting itself is Condition.wait.
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._sessions: dict[str, _Session] = {}

    # -- registration and turns ------------------------------------------------

    def register_agent(self, sid: str | None, agent: MemoryAgent) -> None:
        """Make ``agent`` the owner of *future* completed work of ``sid``.

        LC-08: segments already dirty keep their owner; only turns completed
        from now on belong to ``agent``. LC-01: falsy ``sid`` is a no-op.
        """
        if not sid:
            return
        with self._cond:
            self._sessions.setdefault(sid, _Session()).handle = agent

    def unregister_agent(self, sid: str | None) -> None:
        """Drop the handle for future work; existing dirty work keeps its owner.

        LC-10: completed work stays discoverable (and committable by its owner,
        or by an explicit agent if it was un-owned). LC-01: falsy ``sid`` is a no-op.
        """
        if not sid:
            return
        with self._cond:
            state = self._sessions.get(sid)
            if state is not None:
                state.handle = None

    def mark_turn_completed(self, sid: str | None, *, agent: MemoryAgent | None = None) -> int:
        """Record a completed turn and return its generation (LC-03).

        The turn is owned by ``agent`` if given (for this turn only), else by the
        registered handle, else it is un-owned. A turn whose owner matches the
        newest segment's extends it -- even while that segment is being
        committed, since the in-flight commit only clears up to its snapshot
        (LC-04, LC-05). LC-01: falsy ``sid`` returns 0.
        """
        if not sid:
            return 0
        with self._cond:
            state = self._sessions.setdefault(sid, _Session())
            owner = agent if agent is not None else state.handle
            state.generation += 1
            if state.segments and state.segments[-1].owner is owner:
                state.segments[-1].high = state.generation
            else:
                state.segments.append(_Segment(owner, state.generation))
            return state.generation

    def has_uncommitted_work(self, sid: str | None) -> bool:
        """True while some completed generation is not committed (LC-03, LC-17)."""
        if not sid:
            return False
        with self._cond:
            state = self._sessions.get(sid)
            return state is not None and state.generation > state.committed

    # -- commits ---------------------------------------------------------------

    def commit_session_memory(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> bool:
        """Flush the oldest dirty segment with its own owner; True iff that call succeeded.

        LC-09: one segment per call, oldest first, with its owner even if a
        different ``agent`` is passed; ``agent`` only adopts un-owned work
        (LC-07, LC-10). LC-02/LC-04: nothing dirty means no call and False.
        LC-06: a failure returns False and changes nothing but the adoption.
        LC-13: while a commit is in flight, ``wait=False`` returns False at once;
        ``wait=True`` waits for it (at most ``timeout`` seconds, None = forever)
        and then commits what remains. LC-01: falsy ``sid`` returns False.
        """
        if not sid:
            return False
        end = self._clock() + timeout if wait and timeout is not None else None
        return self._commit(sid, agent, wait=wait, end=end) is _Outcome.COMMITTED

    def _commit(self, sid: str, agent: MemoryAgent | None, *, wait: bool, end: float | None) -> _Outcome:
        with self._cond:
            state = self._sessions.get(sid)
            while state is not None and state.in_flight:
                # LC-13: one commit in flight per session.
                if not wait or not self._wait(end):
                    return _Outcome.SKIPPED
                state = self._sessions.get(sid)
            claim = None if state is None else self._claim(state, agent)
        if claim is None:
            return _Outcome.SKIPPED
        return self._execute(sid, claim)

    def _claim(self, state: _Session, agent: MemoryAgent | None) -> _Claim | None:
        """Take the oldest segment for a provider call; caller holds the lock."""
        if state.in_flight or not state.segments:
            return None
        oldest = state.segments[0]
        if oldest.owner is None:
            if agent is None:
                return None  # un-owned work needs an explicit agent (LC-07, LC-15)
            # LC-07: adopt now, so the owner survives a failed call.
            oldest.owner = agent
            if len(state.segments) > 1 and state.segments[1].owner is agent:
                # Keep segments maximal: the next run now has the same owner.
                oldest.high = state.segments[1].high
                del state.segments[1]
        state.in_flight = True
        return _Claim(state, oldest.owner, oldest.high)

    def _execute(self, sid: str, claim: _Claim) -> _Outcome:
        """Call the owner outside the lock (LC-14), then settle the claim."""
        ok = False
        try:
            claim.owner.commit_memory_session()
            ok = True
        except Exception:
            logger.warning("commit_memory_session() failed for session %r", sid, exc_info=True)
        finally:
            # Even a BaseException must release the in-flight slot.
            with self._cond:
                claim.state.in_flight = False
                if ok:
                    # LC-05: clear only up to the snapshot; later turns stay dirty.
                    claim.state.committed = claim.high
                    while claim.state.segments and claim.state.segments[0].high <= claim.high:
                        claim.state.segments.popleft()
                self._cond.notify_all()
        return _Outcome.COMMITTED if ok else _Outcome.FAILED

    def _wait(self, end: float | None) -> bool:
        """Wait once for a settle; False once ``end`` has passed. Caller holds the lock."""
        if end is None:
            self._cond.wait()
            return True
        remaining = end - self._clock()
        if remaining <= 0:
            return False
        self._cond.wait(remaining)
        return True

    # -- boundaries --------------------------------------------------------------

    def drain_all_on_shutdown(self, deadline: float = 30.0) -> None:
        """Wait for in-flight commits, then flush every dirty session, within ``deadline`` s.

        LC-11: each session's in-flight commit is awaited, then all its
        segments are flushed, oldest first, with their owners.
        LC-12: provider calls run on daemon helper threads; this thread only
        waits on the condition with the remaining budget and, at the deadline,
        returns and abandons them instead of joining. That is safe: an
        abandoned call still owns its session's in-flight slot and settles it
        normally if it ever returns (advancing ``committed`` only to its own
        snapshot), and its helper starts no new call after the deadline.

        Not flushed: un-owned work (no agent to call: LC/unowned-commit
        ``explicit-agent``) and sessions whose commit failed during this drain
        (LC/drain-retry ``no-retry``: the work stays dirty with its owner and
        the handle stays, for a later commit); the other sessions are flushed
        all the same.
        """
        end = self._clock() + deadline
        failed: set[str] = set()
        while True:
            with self._cond:
                # Rounds repeat so work completed or unblocked meanwhile is flushed too.
                sids = [sid for sid, state in self._sessions.items() if sid not in failed and self._drainable(state)]
                if not sids or self._clock() >= end:
                    return
                batch = _DrainRound(deque(sids), len(sids), failed)
            for _ in range(min(_DRAIN_WORKERS, len(sids))):
                threading.Thread(
                    target=self._drain_worker, args=(batch, end), name="session-lifecycle-drain", daemon=True
                ).start()
            with self._cond:
                while batch.outstanding:
                    if not self._wait(end):
                        return  # LC-12: abandon whatever is still running

    @staticmethod
    def _drainable(state: _Session) -> bool:
        # In flight: wait for it (LC-11). Un-owned oldest work has nobody to call.
        return state.in_flight or bool(state.segments and state.segments[0].owner is not None)

    def _drain_worker(self, batch: _DrainRound, end: float) -> None:
        while True:
            with self._cond:
                if not batch.queue:
                    return
                sid = batch.queue.popleft()
            outcome = _Outcome.SKIPPED
            try:
                while self._clock() < end:
                    # wait=True: first let an in-flight commit finish (LC-11).
                    outcome = self._commit(sid, None, wait=True, end=end)
                    if outcome is not _Outcome.COMMITTED:
                        break
            finally:
                with self._cond:
                    if outcome is _Outcome.FAILED:
                        batch.failed.add(sid)
                    batch.outstanding -= 1
                    self._cond.notify_all()

    def discard_session(self, sid: str | None) -> bool:
        """Forget a clean, idle session entirely (LC-16); True if nothing is left.

        Refuses (False) while the session is dirty or a commit is in flight, so
        retryable work and its owner are never lost. Forgetting drops the
        handle and restarts the generation count (LC/forgotten-generations
        ``restart``): a later turn starts a fresh session. An unknown session is already forgotten (True). LC-01: falsy
        ``sid`` returns False.
        """
        if not sid:
            return False
        with self._cond:
            state = self._sessions.get(sid)
            if state is None:
                return True
            if state.in_flight or state.generation > state.committed:
                return False
            del self._sessions[sid]
            return True

    def evict_session(self, sid: str | None, agent: ClosableAgent) -> bool:
        """Commit everything, then unregister and close ``agent`` once; True if closed.

        LC-15 (optional capability ``eviction``): waits for an in-flight
        commit, flushes every dirty segment (the newer generation too) with
        its owner -- ``agent`` adopts un-owned work -- and only when the
        session is clean and idle drops the handle and calls ``agent.close()``
        exactly once. A failed commit -- the newer generation's after waiting
        included -- returns False at once: the agent stays open, the work dirty
        with its owner and the handle registered, so a later commit or
        eviction retries it (LC-06, LC-15). A clean eviction keeps the
        session's entry, so its generations continue (LC/evict-forgets
        ``keeps``). LC-01: falsy ``sid`` returns False without calling ``agent``.
        """
        if not sid:
            return False
        while True:
            outcome = self._commit(sid, agent, wait=True, end=None)
            if outcome is _Outcome.FAILED:
                return False
            if outcome is _Outcome.SKIPPED:
                with self._cond:
                    state = self._sessions.get(sid)
                    if state is None or not (state.in_flight or state.segments):
                        if state is not None:
                            state.handle = None
                        break
                # New work or another commit appeared since; go round again.
        agent.close()
        return True


def factory(ctx: object) -> SessionLifecycle:
    """Kit factory: the lifecycle is in-memory, so the context is not needed.

    The kit's clock is deliberately not injected: deadlines (LC-12, LC-13) are
    real waits and must be measured on the real monotonic clock.
    """
    del ctx
    return SessionLifecycle()
