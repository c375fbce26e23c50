"""Reference implementation of the session-memory commit lifecycle (§1a).

A coordinator deciding *when* an agent's memory is committed to a
batch-extraction memory provider. Turns complete (``mark_turn_completed``);
commits happen only at session boundaries; a commit is slow I/O that may fail
and may finish after newer work arrived.

Model (per session, :class:`SessionState`):

* ``generation`` counts completed turns; ``committed`` is the highest
  generation known to be flushed. Commits go oldest first and one at a time,
  so the committed generations are always the prefix ``1..committed`` and the
  session is dirty exactly when ``generation > committed``.
* The dirty generations ``committed+1..generation`` are split into *segments*
  (:class:`Segment`): maximal contiguous runs with one owner, the agent
  registered (or passed) when each turn completed. Work completed with no
  agent at all is *un-owned* (owner ``None``) until an explicit agent passed
  to a commit adopts it.
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
from typing import Protocol, TypeGuard

__all__ = [
    "ClosableAgent",
    "CommitOutcome",
    "MemoryAgent",
    "Segment",
    "SessionLifecycle",
    "SessionState",
    "factory",
]

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
class Segment:
    """A maximal run of dirty generations with one owner."""

    owner: MemoryAgent | None  # None: un-owned until a commit adopts it (LC-07)
    high: int  # highest generation in the run; its low end follows the previous one


@dataclass(slots=True)
class SessionState:
    """One session's bookkeeping (see the module docstring)."""

    generation: int = 0
    committed: int = 0
    handle: MemoryAgent | None = None  # owner of *future* work only (LC-08)
    in_flight: bool = False
    segments: deque[Segment] = field(default_factory=deque)


class CommitOutcome(enum.Enum):
    """What one commit attempt did."""

    SKIPPED = enum.auto()  # no provider call was made
    COMMITTED = enum.auto()
    FAILED = enum.auto()


@dataclass(frozen=True, slots=True)
class _Claim:
    """One segment taken for a provider call: who to call, and which generations."""

    state: SessionState
    owner: MemoryAgent
    generations: range


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

    Extension points (the mutant catalogue overrides these; each states one
    decision of the contract, and those taking a :class:`SessionState` are
    called with the lock held and must not block):

    * :meth:`is_session_id` -- which ids are sessions at all (LC-01).
    * :meth:`joins_newest_segment` -- whether a completed turn coalesces with
      the newest segment (LC-04, LC-05).
    * :meth:`set_handle` -- who owns future work (LC-08, LC-10).
    * :meth:`select_segment` -- which segment a commit flushes, with which
      owner (LC-02, LC-07, LC-09).
    * :meth:`flush` -- the provider call itself, made outside the lock
      (LC-04, LC-14).
    * :meth:`settle_commit` -- what a finished call changes (LC-05, LC-06).
    * :meth:`drainable` -- which sessions the shutdown drain visits (LC-11).
    * :meth:`can_discard` -- when a session may be forgotten (LC-16).

    Building blocks for other boundaries: :meth:`commit_oldest` (one commit
    attempt and its :class:`CommitOutcome`) and :meth:`drain_candidates`.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        # Deadlines are measured on `clock`; waiting itself is Condition.wait.
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._sessions: dict[str, SessionState] = {}

    # -- extension points --------------------------------------------------------

    def is_session_id(self, sid: str | None) -> TypeGuard[str]:
        """LC-01: falsy ids (``None``, ``""``) name no session; every call treats them as a no-op."""
        return bool(sid)

    def joins_newest_segment(self, state: SessionState, owner: MemoryAgent | None) -> bool:
        """Whether a turn completed by ``owner`` extends the newest segment.

        It does whenever the owner matches -- even while that segment is being
        committed, since the in-flight commit only clears up to its snapshot
        (LC-04, LC-05).
        """
        return bool(state.segments) and state.segments[-1].owner is owner

    def set_handle(self, state: SessionState, agent: MemoryAgent | None) -> None:
        """Make ``agent`` (``None``: nobody) the owner of the session's *future* work.

        Work already dirty keeps its owner (LC-08) and stays discoverable
        (LC-10).
        """
        state.handle = agent

    def select_segment(self, state: SessionState, agent: MemoryAgent | None) -> Segment | None:
        """The segment the next commit flushes (its owner is called), or None for no call.

        The oldest segment, with its own owner whatever ``agent`` is passed
        (LC-09); ``agent`` only adopts un-owned work (LC-07, LC-10). Nothing
        dirty means no call (LC-02). Only called while no commit of the
        session is in flight.
        """
        if not state.segments:
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
        return oldest

    def flush(self, sid: str, owner: MemoryAgent, generations: range) -> None:
        """Flush ``generations`` of ``sid`` through ``owner``; raising means the commit failed.

        One provider call for the whole segment (LC-04), made without the lock
        (LC-14).
        """
        del sid, generations  # the provider extracts the session's pending turns itself
        owner.commit_memory_session()

    def settle_commit(self, state: SessionState, high: int, succeeded: bool) -> None:
        """Record a finished provider call that flushed up to generation ``high``.

        LC-05: a success clears only up to that snapshot; turns completed
        meanwhile stay dirty. LC-06: a failure changes nothing -- the work
        stays dirty with its owner and the handle stays.
        """
        if not succeeded:
            return
        state.committed = high
        while state.segments and state.segments[0].high <= high:
            state.segments.popleft()

    def drainable(self, state: SessionState) -> bool:
        """Whether the shutdown drain visits the session now (LC-11).

        In flight: wait for it, then flush what it left. Un-owned oldest work
        has nobody to call.
        """
        return state.in_flight or bool(state.segments and state.segments[0].owner is not None)

    def can_discard(self, state: SessionState) -> bool:
        """LC-16: only a clean, idle session may be forgotten, so retryable work and its owner are never lost."""
        return not state.in_flight and state.generation <= state.committed

    # -- registration and turns ------------------------------------------------

    def register_agent(self, sid: str | None, agent: MemoryAgent) -> None:
        """Make ``agent`` the owner of *future* completed work of ``sid``.

        LC-08: segments already dirty keep their owner; only turns completed
        from now on belong to ``agent``. LC-01: falsy ``sid`` is a no-op.
        """
        if not self.is_session_id(sid):
            return
        with self._cond:
            self.set_handle(self._sessions.setdefault(sid, SessionState()), agent)

    def unregister_agent(self, sid: str | None) -> None:
        """Drop the handle for future work; existing dirty work keeps its owner.

        LC-10: completed work stays discoverable (and committable by its owner,
        or by an explicit agent if it was un-owned). LC-01: falsy ``sid`` is a no-op.
        """
        if not self.is_session_id(sid):
            return
        with self._cond:
            state = self._sessions.get(sid)
            if state is not None:
                self.set_handle(state, None)

    def mark_turn_completed(self, sid: str | None, *, agent: MemoryAgent | None = None) -> int:
        """Record a completed turn and return its generation (LC-03).

        The turn is owned by ``agent`` if given (for this turn only), else by the
        registered handle, else it is un-owned; see :meth:`joins_newest_segment`
        for when it coalesces. LC-01: falsy ``sid`` returns 0.
        """
        if not self.is_session_id(sid):
            return 0
        with self._cond:
            state = self._sessions.setdefault(sid, SessionState())
            owner = agent if agent is not None else state.handle
            state.generation += 1
            if self.joins_newest_segment(state, owner):
                state.segments[-1].high = state.generation
            else:
                state.segments.append(Segment(owner, state.generation))
            return state.generation

    def has_uncommitted_work(self, sid: str | None) -> bool:
        """True while some completed generation is not committed (LC-03, LC-17)."""
        if not self.is_session_id(sid):
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
        return self.commit_oldest(sid, agent, wait=wait, timeout=timeout) is CommitOutcome.COMMITTED

    def commit_oldest(
        self, sid: str | None, agent: MemoryAgent | None = None, *, wait: bool = False, timeout: float | None = None
    ) -> CommitOutcome:
        """One commit attempt, as :meth:`commit_session_memory`, telling a failure from no call."""
        if not self.is_session_id(sid):
            return CommitOutcome.SKIPPED
        end = self._clock() + timeout if wait and timeout is not None else None
        return self._commit(sid, agent, wait=wait, end=end)

    def _commit(self, sid: str, agent: MemoryAgent | None, *, wait: bool, end: float | None) -> CommitOutcome:
        with self._cond:
            state = self._sessions.get(sid)
            while state is not None and state.in_flight:
                # LC-13: one commit in flight per session.
                if not wait or not self._wait(end):
                    return CommitOutcome.SKIPPED
                state = self._sessions.get(sid)
            claim = None if state is None else self._claim(state, agent)
        if claim is None:
            return CommitOutcome.SKIPPED
        return self._execute(sid, claim)

    def _claim(self, state: SessionState, agent: MemoryAgent | None) -> _Claim | None:
        """Take a segment for a provider call, snapshotting its generations; caller holds the lock."""
        segment = self.select_segment(state, agent)
        if segment is None or segment.owner is None:
            return None
        state.in_flight = True
        return _Claim(state, segment.owner, range(state.committed + 1, segment.high + 1))

    def _execute(self, sid: str, claim: _Claim) -> CommitOutcome:
        """Call the owner outside the lock (LC-14), then settle the claim."""
        ok = False
        try:
            self.flush(sid, claim.owner, claim.generations)
            ok = True
        except Exception:
            logger.warning("commit_memory_session() failed for session %r", sid, exc_info=True)
        finally:
            # Even a BaseException must release the in-flight slot.
            with self._cond:
                claim.state.in_flight = False
                self.settle_commit(claim.state, claim.generations.stop - 1, ok)
                self._cond.notify_all()
        return CommitOutcome.COMMITTED if ok else CommitOutcome.FAILED

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

    def drain_candidates(self) -> list[str]:
        """The sessions a shutdown drain would visit now (see :meth:`drainable`)."""
        with self._cond:
            return [sid for sid, state in self._sessions.items() if self.drainable(state)]

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
            # Rounds repeat so work completed or unblocked meanwhile is flushed too.
            sids = [sid for sid in self.drain_candidates() if sid not in failed]
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

    def _drain_worker(self, batch: _DrainRound, end: float) -> None:
        while True:
            with self._cond:
                if not batch.queue:
                    return
                sid = batch.queue.popleft()
            outcome = CommitOutcome.SKIPPED
            try:
                while self._clock() < end:
                    # wait=True: first let an in-flight commit finish (LC-11).
                    outcome = self._commit(sid, None, wait=True, end=end)
                    if outcome is not CommitOutcome.COMMITTED:
                        break
            finally:
                with self._cond:
                    if outcome is CommitOutcome.FAILED:
                        batch.failed.add(sid)
                    batch.outstanding -= 1
                    self._cond.notify_all()

    def discard_session(self, sid: str | None) -> bool:
        """Forget a clean, idle session entirely (LC-16); True if nothing is left.

        Refuses (False) while the session is dirty or a commit is in flight
        (:meth:`can_discard`). Forgetting drops the handle and restarts the
        generation count (LC/forgotten-generations ``restart``): a later turn
        starts a fresh session. An unknown session is already forgotten
        (True). LC-01: falsy ``sid`` returns False.
        """
        if not self.is_session_id(sid):
            return False
        with self._cond:
            state = self._sessions.get(sid)
            if state is None:
                return True
            if not self.can_discard(state):
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
        if not self.is_session_id(sid):
            return False
        while True:
            outcome = self._commit(sid, agent, wait=True, end=None)
            if outcome is CommitOutcome.FAILED:
                return False
            if outcome is CommitOutcome.SKIPPED and self._release_if_settled(sid):
                break
            # Committed, or new work or another commit appeared since: go round again.
        agent.close()
        return True

    def _release_if_settled(self, sid: str) -> bool:
        """Drop the handle if the session is clean and idle, atomically with that check."""
        with self._cond:
            state = self._sessions.get(sid)
            if state is None:
                return True
            if state.in_flight or state.segments:
                return False
            self.set_handle(state, None)
            return True


def factory(ctx: object) -> SessionLifecycle:
    """Kit factory: the lifecycle is in-memory, so the context is not needed.

    The kit's clock is deliberately not injected: deadlines (LC-12, LC-13) are
    real waits and must be measured on the real monotonic clock.
    """
    del ctx
    return SessionLifecycle()
