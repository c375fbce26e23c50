"""LK-09: hammering acquire/rotate/release, judged from a recorded history (§3, stress).

A stress rule can only find bugs, never prove their absence, so it is
reported apart from the required rules.  Some races have no boundary the
kit controls — an unlocked check-then-insert inside ``lock_for`` is a window
of a few bytecodes — and only many threads under a tiny switch interval
(:func:`~pytest_lifecycle.support.switch_interval`) make them likely.

Each round has :data:`SESSIONS` logical locks: sessions whose ids start as
``(round, s, 0)`` and are rotated to ``(round, s, 1)``, ``(round, s, 2)`` …
by whoever holds them.  Every round, :data:`HAMMERS` threads

1. meet at a barrier and all call ``lock_for`` on every session's first id,
   in the same order, at once — first callers racing to create each lock;
2. enter random sessions :data:`CYCLES` times each — through the current
   id or, as late callers, through a stale one — and sometimes rotate the
   id from inside; entries and exits go to a
   :class:`~pytest_lifecycle.support.History`;
3. meet again.  Every thread kept every lock it got, so each session's lock
   stayed alive and all its ids had to resolve to it.  Where the threads
   nevertheless got several lock objects for one session, the kit enters
   them all at once (``acquire(timeout=0)``) and records what got in.

After each round the history must show no two entries inside one session
at once, and no call may have raised.
"""

from __future__ import annotations

import random
import threading
from typing import Any, Final

import pytest

from pytest_lifecycle import Kit, unwrap
from pytest_lifecycle.support import History, describe_overlap, switch_interval, yield_thread

__all__ = ["CYCLES", "HAMMERS", "SESSIONS", "test_lk09_hammering_never_overlaps"]

#: Threads hammering the sessions.
HAMMERS: Final = 4
#: Logical locks (sessions) per round.
SESSIONS: Final = 64
#: Critical sections each thread enters per round.
CYCLES: Final = 4
#: Chance that an entry rotates the session id from inside.
ROTATE: Final = 0.4
#: Chance that an entry comes through a stale id (a late caller).
STALE: Final = 0.3


class _Hammer:
    """The shared state of one stress run."""

    def __init__(self, kit: Kit, locks: Any, rounds: int) -> None:
        self.kit = kit
        self.locks = locks
        self.rounds = rounds
        self.history = History()
        self.round = 0
        #: Session s's current id is (round, s, generation[s]).
        self.generation = [0] * SESSIONS
        #: thread -> session -> every lock object it got this round.
        self.got: list[list[list[Any]]] = [[[] for _ in range(SESSIONS)] for _ in range(HAMMERS)]
        self.checked = 0
        self.overlap = ""
        self.error = ""
        #: Cycles begun, by every thread: how the kit tells slow from hung.
        self.cycles = 0
        self.barrier = threading.Barrier(HAMMERS, action=self._between_phases)

    # -- on one thread, while the others wait at the barrier --------------------

    def _between_phases(self) -> None:
        self._probe()
        overlaps = self.history.overlaps(self.checked)
        self.checked = len(self.history)
        if overlaps and not self.overlap:
            more = f" ({len(overlaps) - 1} more that round)" if len(overlaps) > 1 else ""
            self.overlap = describe_overlap(*overlaps[0]) + more
        self.generation = [0] * SESSIONS

    def _probe(self) -> None:
        """Enter every distinct lock object handed out for one session at once."""
        for session in range(SESSIONS):
            distinct: dict[int, tuple[int, Any]] = {}
            for thread, sessions in enumerate(self.got):
                for lock in sessions[session]:
                    distinct.setdefault(id(lock), (thread, lock))
            if len(distinct) < 2:
                continue
            section = (self.round, session)
            entered = []
            for thread, lock in distinct.values():
                if lock.acquire(timeout=0):
                    self.history.enter(section, f"T{thread}", f"the lock object it got, one of {len(distinct)}")
                    entered.append((thread, lock))
            for thread, lock in reversed(entered):
                self.history.exit(section, f"T{thread}")
                lock.release()

    # -- each hammer thread -------------------------------------------------------

    def _meet(self) -> bool:
        try:
            self.barrier.wait(self.kit.timeout)
        except threading.BrokenBarrierError:
            return False
        return not self.overlap

    def run(self, thread: int) -> None:
        rng = random.Random(thread)
        me = f"T{thread}"
        got = self.got[thread]
        try:
            for round_ in range(self.rounds):
                if not self._meet():
                    return
                self.round = round_
                for session in range(SESSIONS):  # every thread at once: first callers race
                    got[session].append(self.locks.lock_for((round_, session, 0)))
                for _ in range(CYCLES):
                    self._cycle(rng, me, round_, rng.randrange(SESSIONS), got)
                if not self._meet():
                    return
                for held in got:
                    held.clear()
        except Exception as exc:  # not a provider call: the kit's own bug, or a hang
            self.error = self.error or f"{me}: {type(exc).__name__}: {exc}"
            self.barrier.abort()

    def _cycle(self, rng: random.Random, me: str, round_: int, session: int, got: list[list[Any]]) -> None:
        self.cycles += 1  # a lost increment between threads only delays the count
        current = self.generation[session]
        key = (round_, session, rng.randrange(current + 1) if rng.random() < STALE else current)
        try:
            lock = self.locks.lock_for(key)
            got[session].append(lock)
            with lock:
                self.history.enter((round_, session), me, repr(key))
                try:
                    yield_thread()
                    if rng.random() < ROTATE:
                        new = (round_, session, self.generation[session] + 1)
                        self.locks.rotate(key, new, lock)
                        self.generation[session] += 1
                finally:
                    # Left even when rotate raised: a raise is not an overlap.
                    self.history.exit((round_, session), me, repr(key))
        except Exception as exc:  # a provider call raised: report it, keep hammering
            self.error = self.error or f"{me} with lock_for({key!r}): {type(exc).__name__}: {exc}"


@pytest.mark.rule("LK-09")
def test_lk09_hammering_never_overlaps(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-09 (§3, stress): hammering acquire/rotate/release never overlaps critical sections.

    Four threads, ``profile.stress_rounds`` rounds (300 in the ``ci``
    profile) of sixteen fresh sessions each, all under a 1 µs switch
    interval: they race to create each session's lock, enter sessions
    through current and stale ids, and rotate ids while inside.  The
    recorded history must never show two threads inside one session at once
    (also when the kit enters every lock object handed out for a session),
    and no call may raise.
    """
    locks, kit = keyed_locks, lifecycle_kit
    hammer = _Hammer(kit, unwrap(locks), kit.profile.stress_rounds)
    with switch_interval():
        tasks = [kit.spawn(hammer.run, n, what=f"hammer T{n}") for n in range(HAMMERS)]
        for task in tasks:
            # Hung only when nothing happens for a timeout: under load 300 rounds take long.
            task.result_while_progressing(lambda: hammer.cycles)
    kit.note(f"stress: {len(hammer.history)} events over {hammer.round + 1} of {hammer.rounds} rounds")
    # The cause first: a call that raised or hung is reported as that, not
    # as the overlap it may have produced.
    kit.check(not hammer.error, f"a call raised while hammering: {hammer.error}")
    kit.check(
        not hammer.barrier.broken,
        f"a hammer thread did not reach the round barrier within {kit.timeout:g}s (the provider hung)",
    )
    kit.check(not hammer.overlap, f"two threads inside one logical lock: {hammer.overlap}")
