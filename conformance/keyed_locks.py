"""Conformance suite of the lock-rotation contract (§3).

One or more tests per rule, ``LK-01`` … ``LK-09``, each marked with
``@pytest.mark.rule`` and named after it.  The scenarios come from the
incident the contract records (its production lock-rotation tests): a
session id is rotated while a holder is inside the critical section, the
old id may already have been pruned, and a late caller that still uses the
old id must not create a second lock.

Nothing here sleeps or races a timer.  A *holder* is a block run on one kit
worker: it enters ``with lock_for(key):`` and parks inside on a closed gate,
so the lock is taken and released by the same thread (providers may use
thread-owned locks).  "B is excluded while A holds" is proven by B's
non-blocking ``acquire(timeout=0)`` returning ``False`` — deterministic —
and mutual exclusion is *measured* (most callers inside at once, lost
updates of a read-modify-write counter), not assumed.  Identities are
compared on the provider's own objects (:func:`pytest_lifecycle.unwrap`).

"Pruned" means what a registry that holds its entries weakly makes of it:
every reference to the key's lock was dropped (and garbage collected), so
the entry is gone.  LK-01's SHOULD is checked apart (``level="should"``): a
*bare* holder acquires ``lock_for(key)`` and keeps no reference at all, and
after a collection callers must still be refused.  The leak rule (LK-07)
measures pruning two ways: the registry's ``len()`` is back to its
baseline, and the memory the registry keeps (``tracemalloc``, without what
the harness keeps: :func:`~pytest_lifecycle.support.provider_growth`) is bounded.  The model-based rule (LK-08) lives in
:mod:`conformance._keyed_locks_machine`, the stress rule (LK-09) in
:mod:`conformance._keyed_locks_stress`.

Use in a project's own tests::

    from conformance.keyed_locks import *
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Hashable
from typing import Any, Final

import pytest

from pytest_lifecycle import Kit, RuleViolation, unwrap
from pytest_lifecycle.support import (
    Growth,
    History,
    check_growth,
    describe_overlap,
    interleavings,
    provider_growth,
    short_repr,
    switch_interval,
    yield_thread,
)

from ._keyed_locks_machine import test_lk08_model_conformance
from ._keyed_locks_stress import test_lk09_hammering_never_overlaps

__all__ = [
    "test_lk01_holder_without_a_reference_still_excludes",
    "test_lk01_rotated_holder_without_a_reference_still_excludes",
    "test_lk01_same_lock_while_a_waiter_takes_over",
    "test_lk01_same_lock_while_held",
    "test_lk02_first_callers_of_a_key_get_one_lock",
    "test_lk02_holder_excludes_every_other_caller",
    "test_lk02_read_modify_write_loses_no_update",
    "test_lk03_holding_one_key_never_blocks_another",
    "test_lk04_rotated_key_resolves_to_the_held_lock",
    "test_lk04_rotated_lock_excludes_both_ways",
    "test_lk05_rotation_after_old_was_pruned",
    "test_lk06_late_caller_on_old_gets_the_rotated_lock",
    "test_lk06_late_caller_waiting_on_old_excludes_new",
    "test_lk07_churn_returns_to_baseline",
    "test_lk07_released_and_dropped_entries_disappear",
    "test_lk08_model_conformance",
    "test_lk09_hammering_never_overlaps",
]

#: LK-01: other keys that come and go while a holder keeps its key.
OTHER_KEYS: Final = 512
#: LK-02: threads and increments each of the read-modify-write counter.
RMW_THREADS: Final = 8
RMW_ROUNDS: Final = 200
#: LK-07: keys alive at once while churning (half of them also rotated).
CHURN_WAVE: Final = 256
#: LK-07: keys churned before the baseline is taken (caches, dict sizes).
CHURN_WARMUP: Final = 1_000


# -- helpers ------------------------------------------------------------------


class _Holder:
    """A kit worker parked inside ``with lock_for(key):`` until :meth:`leave`.

    The lock is taken and released on the holder's own thread.  With
    *rotate* ``(old, new)`` the holder calls ``rotate(old, new, lock)`` once
    inside, as the seed's compression step does.  :attr:`lock` is the
    provider's own lock object (it keeps the lock alive after the holder
    left, so "for as long as that lock is alive" holds throughout a test).
    """

    def __init__(
        self, kit: Kit, locks: Any, key: Hashable, *, name: str, rotate: tuple[Hashable, Hashable] | None = None
    ) -> None:
        __tracebackhide__ = True
        self.key = key
        self.lock: Any = None
        self.gate = kit.gate(f"{name} inside lock_for({key!r})", closed=True)
        what = f"{name}: with lock_for({key!r})" + (f": rotate{rotate!r}" if rotate else "")
        self.task = kit.spawn(self._run, locks, rotate, what=what)
        try:
            self.gate.wait_entered(1, unless=self.task)
        except RuleViolation:
            error = self.task.exception(timeout=0) if self.task.done else None
            if error is None or isinstance(error, RuleViolation):
                raise
            kit.fail(f"{what} raised {type(error).__name__}: {error}")

    def _run(self, locks: Any, rotate: tuple[Hashable, Hashable] | None) -> None:
        lock = locks.lock_for(self.key)
        with lock:
            self.lock = unwrap(lock)
            if rotate is not None:
                locks.rotate(rotate[0], rotate[1], lock)
            with self.gate.passage():
                pass

    def leave(self) -> None:
        """Let the holder out of the critical section and wait until it released."""
        __tracebackhide__ = True
        self.gate.open()
        self.task.result()


def _try_acquire(lock: Any) -> bool:
    """``acquire(timeout=0)`` on the calling thread; released at once if it got in."""
    got: bool = lock.acquire(timeout=0)
    if got:
        lock.release()
    return got


def _describe(lock: Any) -> str:
    raw = unwrap(lock)
    return f"{short_repr(raw)} (id {id(raw):#x})"


def _expect_same(kit: Kit, got: Any, expected: Any, what: str) -> None:
    """*got* must be the very lock object *expected* (compared unwrapped)."""
    __tracebackhide__ = True
    if unwrap(got) is not unwrap(expected):
        kit.fail(f"{what}: expected the same lock {_describe(expected)}, got {_describe(got)}")


def _churn(locks: Any, label: str, keys: int, *, enter: bool = True) -> int:
    """Use *keys* fresh keys in waves of :data:`CHURN_WAVE`, rotating every other one.

    Runs on the raw registry (one thread hop for the whole loop).  Each lock
    is entered (unless *enter* is false), kept until its wave ends, then
    dropped; returns ``len(registry)`` seen at the fullest point, so the
    caller knows the entries really existed.
    """
    fullest = 0
    for start in range(0, keys, CHURN_WAVE):
        wave = []
        for i in range(start, min(start + CHURN_WAVE, keys)):
            lock = locks.lock_for((label, i))
            if enter:
                with lock:
                    if i % 2:
                        locks.rotate((label, i), (label, "rotated", i), lock)
            wave.append(lock)
        fullest = max(fullest, len(locks))
        del wave, lock
    len(locks)  # a registry may compact on its next call
    return fullest


# -- LK-01 ----------------------------------------------------------------------


@pytest.mark.rule("LK-01")
def test_lk01_same_lock_while_held(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-01 (§3): ``lock_for(k) is lock_for(k)`` while a holder exists.

    A holder parks inside ``lock_for('k')``.  Meanwhile ``lock_for('k')`` is
    the holder's lock from the test's thread, from another thread, and
    still after 512 other keys came and went (a registry that evicts or
    sweeps entries must not drop one whose lock is held).
    """
    locks, kit = keyed_locks, lifecycle_kit
    holder = _Holder(kit, locks, "k", name="holder")
    _expect_same(kit, locks.lock_for("k"), holder.lock, "lock_for('k') while a holder is inside")
    _expect_same(kit, locks.lock_for("k"), holder.lock, "a second lock_for('k') while a holder is inside")
    elsewhere = kit.spawn(lambda: unwrap(locks.lock_for("k")), what="lock_for('k') from another thread")
    _expect_same(kit, elsewhere.result(), holder.lock, "lock_for('k') from another thread while a holder is inside")
    kit.call(_churn, unwrap(locks), "other", OTHER_KEYS, enter=False, what=f"{OTHER_KEYS} other keys come and go")
    _expect_same(kit, locks.lock_for("k"), holder.lock, f"lock_for('k') after {OTHER_KEYS} other keys came and went")
    holder.leave()


@pytest.mark.rule("LK-01")
def test_lk01_same_lock_while_a_waiter_takes_over(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-01 (§3): identity holds while a waiter exists and after it takes over.

    A holder parks inside ``lock_for('k')``; a waiter gets ``lock_for('k')``
    and blocks in ``acquire``.  While it waits, and once the holder left and
    the waiter is inside, ``lock_for('k')`` is still that one lock — a
    registry that prunes the entry when its holder releases ("the last one
    out") loses it while the waiter holds it.
    """
    locks, kit = keyed_locks, lifecycle_kit
    holder = _Holder(kit, locks, "k", name="holder")
    has_lock = kit.gate("waiter got lock_for('k')")
    inside = kit.gate("waiter inside lock_for('k')", closed=True)

    def waiter() -> None:
        lock = locks.lock_for("k")
        with has_lock.passage():
            pass
        with lock, inside.passage():  # waits: the holder is inside
            pass

    task = kit.spawn(waiter, what="waiter: with lock_for('k')")
    has_lock.wait_entered(1, unless=task)
    _expect_same(kit, locks.lock_for("k"), holder.lock, "lock_for('k') while a holder is inside and a waiter queued")
    holder.gate.open()
    inside.wait_entered(1, unless=task)
    _expect_same(kit, locks.lock_for("k"), holder.lock, "lock_for('k') once the waiter took over from the holder")
    inside.open()
    task.result()
    holder.task.result()


class _BareHolder:
    """A kit worker holding ``lock_for(key)`` without keeping the lock (LK-01's SHOULD).

    It calls ``lock_for(key).acquire(timeout=0)`` on the raw registry and keeps
    nothing -- no variable, no proxy -- then, with *rotate_to*, calls
    ``rotate(key, rotate_to, lock_for(key))``, and parks on a closed gate.
    :meth:`leave` lets it release through a fresh ``lock_for(release_via)``
    on its own thread (thread-owned locks are fine) and returns what went
    wrong, or ``None``.
    """

    def __init__(self, kit: Kit, locks: Any, key: Hashable, *, rotate_to: Hashable | None = None) -> None:
        __tracebackhide__ = True
        self.key = key
        self.release_via = key if rotate_to is None else rotate_to
        self.gate = kit.gate(f"bare holder inside lock_for({key!r})", closed=True)
        rotation = f", rotate({key!r}, {rotate_to!r}, lock_for({key!r}))" if rotate_to is not None else ""
        self.what = f"bare holder: lock_for({key!r}).acquire(timeout=0){rotation}, no reference kept"
        self.task = kit.spawn(self._run, unwrap(locks), rotate_to, what=self.what)
        try:
            self.gate.wait_entered(1, unless=self.task)
        except RuleViolation:
            if not self.task.done:
                raise
            error = self.task.exception(timeout=0)
            if isinstance(error, RuleViolation):
                raise
            if error is not None:
                kit.fail(f"{self.what} raised {type(error).__name__}: {error}")
            kit.fail(self.task.result(timeout=0) or f"{self.what} returned before it was inside")

    def _run(self, raw: Any, rotate_to: Hashable | None) -> str | None:
        if not raw.lock_for(self.key).acquire(timeout=0):
            return f"{self.what}: acquire(timeout=0) of a key nobody used returned False"
        if rotate_to is not None:
            raw.rotate(self.key, rotate_to, raw.lock_for(self.key))
        with self.gate.passage():
            pass
        try:
            raw.lock_for(self.release_via).release()
        except Exception as exc:
            return (
                f"lock_for({self.release_via!r}).release() by the bare holder raised {type(exc).__name__}: {exc} "
                "(the lock it acquired was gone: lock_for made another one)"
            )
        return None

    def leave(self) -> str | None:
        __tracebackhide__ = True
        self.gate.open()
        return self.task.result()


def _refused_while_bare(kit: Kit, locks: Any, holder: _BareHolder, keys: tuple[Hashable, ...]) -> None:
    """After a full collection, callers through *keys* are refused; then the holder leaves cleanly."""
    __tracebackhide__ = True
    gc.collect()  # a lock nothing references is gone now (also from a reference cycle)
    admitted = [key for key in keys if _try_acquire(locks.lock_for(key))]
    problem = holder.leave()
    if admitted:
        kit.fail(
            f"lock_for({admitted[0]!r}).acquire(timeout=0) succeeded while {holder.what} was inside "
            "(after gc.collect()): the registry does not keep a held lock alive, so a second lock was made"
        )
    if problem is not None:
        kit.fail(problem)
    kit.expect(
        _try_acquire(locks.lock_for(holder.release_via)),
        True,
        f"lock_for({holder.release_via!r}).acquire(timeout=0) once the bare holder released",
    )


@pytest.mark.rule("LK-01", level="should")
def test_lk01_holder_without_a_reference_still_excludes(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-01 SHOULD (§3): a holder that keeps no reference to its lock still excludes others.

    A holder calls ``lock_for('k').acquire(timeout=0)`` and keeps nothing.
    After ``gc.collect()``, ``lock_for('k')`` from another thread is refused:
    the registry keeps the held lock (and its entry) alive.  The holder
    then releases through a second ``lock_for('k')`` without error, and the
    lock is free again.
    """
    holder = _BareHolder(lifecycle_kit, keyed_locks, "k")
    _refused_while_bare(lifecycle_kit, keyed_locks, holder, ("k",))


@pytest.mark.rule("LK-01", level="should")
def test_lk01_rotated_holder_without_a_reference_still_excludes(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-01 SHOULD (§3): a held lock with no reference keeps its rotated aliases too.

    A holder calls ``lock_for('old').acquire(timeout=0)``, rotates ``'old'``
    to ``'new'`` with a fresh ``lock_for('old')`` as the held lock, and keeps
    nothing.  After ``gc.collect()``, callers through ``'new'`` and through
    ``'old'`` are refused; the holder releases through ``lock_for('new')``.
    """
    holder = _BareHolder(lifecycle_kit, keyed_locks, "old", rotate_to="new")
    _refused_while_bare(lifecycle_kit, keyed_locks, holder, ("new", "old"))


# -- LK-02 ----------------------------------------------------------------------


@pytest.mark.rule("LK-02")
def test_lk02_holder_excludes_every_other_caller(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-02 (§3): while one holder is inside, nobody else gets in.

    A holder parks inside ``lock_for('k')``.  Fresh ``lock_for('k')`` calls
    from two other threads are refused by ``acquire(timeout=0)``; a caller
    that blocks in ``with lock_for('k'):`` gets in once the holder left, and
    the recorded history never shows two of them inside at once.
    """
    locks, kit = keyed_locks, lifecycle_kit
    history = History()
    holder = _Holder(kit, locks, "k", name="holder")
    history.enter("k", "holder")
    kit.expect(_try_acquire(locks.lock_for("k")), False, "lock_for('k').acquire(timeout=0) while a holder is inside")
    other = kit.spawn(
        lambda: _try_acquire(locks.lock_for("k")), what="lock_for('k').acquire(timeout=0) from another thread"
    )
    kit.expect(other.result(), False, "lock_for('k').acquire(timeout=0) from another thread while a holder is inside")
    has_lock = kit.gate("blocking caller got lock_for('k')")

    def blocking_caller() -> None:
        lock = locks.lock_for("k")
        with has_lock.passage():
            pass
        with lock:
            history.enter("k", "blocking caller")
            history.exit("k", "blocking caller")

    task = kit.spawn(blocking_caller, what="blocking caller: with lock_for('k')")
    has_lock.wait_entered(1, unless=task)
    history.exit("k", "holder")
    holder.leave()
    task.result()
    overlaps = history.overlaps()
    kit.check(
        not overlaps, "at most one inside lock_for('k'): " + "; ".join(describe_overlap(*pair) for pair in overlaps)
    )


@pytest.mark.rule("LK-02")
def test_lk02_first_callers_of_a_key_get_one_lock(lifecycle_kit: Kit) -> None:
    """LK-02 (§3): two first callers of a key get one lock, however their calls interleave.

    The first ``lock_for('k')`` of a fresh registry is stopped before each of
    its lines in turn (:func:`~pytest_lifecycle.support.interleavings`);
    meanwhile a second ``lock_for('k')`` runs to its end, or until it waits
    for the first.  Then, with both locks alive, a holder of the first must
    exclude the second: two locks for one key let two holders in at once --
    the creation race of an unguarded check-then-insert, a few bytecodes wide
    and found here at every run, not only by the stress rule.
    """
    kit = lifecycle_kit

    def exclusion(first: Any, second: Any) -> bool | None:
        # Both tries on kit workers, the second from another thread: an
        # RLock lets its own holder in again.
        if not first.acquire(timeout=0):
            return None
        try:
            return kit.spawn(
                _try_acquire, second, what="lock_for('k').acquire(timeout=0) of the second caller"
            ).result()
        finally:
            first.release()

    for run in interleavings(
        kit,
        lambda: unwrap(kit.instance("keyed_locks")),
        lambda reg: reg.lock_for("k"),
        lambda reg: reg.lock_for("k"),
        what="lock_for('k') on a fresh registry",
    ):
        for who, lock in (("first", run.first), ("second", run.second)):
            # Checked here: the calls went to the raw registry, past the kit's surface checks.
            kit.check(
                callable(getattr(lock, "acquire", None)) and callable(getattr(lock, "release", None)),
                f"lock_for('k') returned {short_repr(lock)} to the {who} caller: not a lock (no acquire/release)",
            )
        got_in = kit.call(exclusion, run.first, run.second, what="holding the first caller's lock of 'k'")
        meanwhile = "waited for it" if run.second_waited else "ran lock_for('k') to its end"
        when = f"the first caller was stopped before line #{run.point} that its lock_for ran ({run.where}) while a second caller {meanwhile}"
        kit.check(got_in is not None, f"a fresh lock of 'k' refused acquire(timeout=0) with no holder ({when})")
        if run.first is run.second:
            kit.check(not got_in, f"lock_for('k') returned a lock that let a second holder in ({when})")
        kit.check(
            not got_in,
            f"lock_for('k') handed out two different locks for one key, both alive, and both let a holder in: {when}; "
            f"the first got {_describe(run.first)}, the second {_describe(run.second)} "
            "(a creation race: an unguarded check-then-insert?)",
        )


@pytest.mark.rule("LK-02")
def test_lk02_read_modify_write_loses_no_update(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-02 (§3): many threads doing read-modify-write under ``lock_for(k)`` lose no update.

    Eight threads start together at a barrier and each increments a shared
    counter 200 times under ``with lock_for('counter'):``, yielding the
    processor between the read and the write (with the switch interval
    shrunk, as in stress mode).  The counter must end at exactly 1 600, and
    a gate inside the critical section must never see two callers at once.
    """
    locks, kit = keyed_locks, lifecycle_kit
    raw = unwrap(locks)
    inside = kit.gate("critical section of lock_for('counter')")
    counter = [0]
    start = threading.Barrier(RMW_THREADS)
    # Which lock object each caller inside got: two different objects for
    # one key, both alive, is the creation race -- named as such.
    holding: dict[int, Any] = {}
    split: list[str] = []
    seen = threading.Lock()

    def increment(n: int) -> None:
        start.wait(kit.timeout)
        for _ in range(RMW_ROUNDS):
            lock = raw.lock_for("counter")
            with lock, inside.passage():
                with seen:
                    split.extend(
                        f"incrementer {o} got {other!r}, incrementer {n} got {lock!r}"
                        for o, other in holding.items()
                        if other is not lock
                    )
                    holding[n] = lock
                value = counter[0]
                yield_thread()
                counter[0] = value + 1
                with seen:
                    del holding[n]

    with switch_interval():
        tasks = [kit.spawn(increment, n, what=f"incrementer {n}") for n in range(RMW_THREADS)]
        for task in tasks:
            task.result()
    kit.check(
        not split,
        "lock_for('counter') handed out different lock objects for one key to callers inside at the same time "
        f"(a creation race: an unguarded check-then-insert?): {split[0] if split else ''}",
    )
    kit.expect(inside.max_inside, 1, "most callers inside lock_for('counter') at once")
    total = RMW_THREADS * RMW_ROUNDS
    kit.expect(counter[0], total, f"counter after {RMW_THREADS} threads x {RMW_ROUNDS} increments (lost updates)")


# -- LK-03 ----------------------------------------------------------------------


@pytest.mark.rule("LK-03")
def test_lk03_holding_one_key_never_blocks_another(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-03 (§3): holding ``k1`` never blocks ``k2``, and the other way round.

    A holder parks inside ``lock_for('k1')``.  ``lock_for('k2')`` is a
    different lock whose ``acquire(timeout=0)`` succeeds, and a second holder
    gets inside ``lock_for('k2')`` within the kit's prompt bound.  With ``k2``
    held, the first holder leaves ``k1`` and ``k1`` is free again.
    """
    locks, kit = keyed_locks, lifecycle_kit
    first = _Holder(kit, locks, "k1", name="holder of k1")
    other = locks.lock_for("k2")
    kit.check(
        unwrap(other) is not first.lock, f"lock_for('k2'): expected a lock other than k1's, got k1's {_describe(other)}"
    )
    kit.expect(_try_acquire(other), True, "lock_for('k2').acquire(timeout=0) while k1 is held")
    second_inside = kit.gate("holder of k2 inside lock_for('k2')", closed=True)

    def second() -> None:
        with locks.lock_for("k2"), second_inside.passage():
            pass

    task = kit.spawn(second, what="holder of k2: with lock_for('k2')")
    second_inside.wait_entered(1, unless=task, timeout=kit.prompt)
    first.gate.open()
    first.task.result(timeout=kit.prompt)
    kit.expect(_try_acquire(locks.lock_for("k1")), True, "lock_for('k1').acquire(timeout=0) while k2 is held")
    second_inside.open()
    task.result()


# -- LK-04 ----------------------------------------------------------------------


@pytest.mark.rule("LK-04")
def test_lk04_rotated_key_resolves_to_the_held_lock(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-04 (§3): after ``rotate(old, new, held)``, ``lock_for(new) is held``.

    Seed: ``test_lock_identity_preserved_after_session_id_rotation``.  A
    holder enters ``lock_for('old')`` and rotates ``'old'`` to ``'new'`` from
    inside the critical section; ``lock_for('new')`` is its lock, from the
    test's thread and from another thread, and refuses ``acquire(timeout=0)``.
    A second rotation (``'new'`` to ``'newer'``) keeps the same identity.
    """
    locks, kit = keyed_locks, lifecycle_kit
    holder = _Holder(kit, locks, "old", name="holder", rotate=("old", "new"))
    _expect_same(kit, locks.lock_for("new"), holder.lock, "lock_for('new') after rotate('old', 'new', held)")
    elsewhere = kit.spawn(lambda: unwrap(locks.lock_for("new")), what="lock_for('new') from another thread")
    _expect_same(kit, elsewhere.result(), holder.lock, "lock_for('new') from another thread after the rotation")
    kit.expect(
        _try_acquire(locks.lock_for("new")),
        False,
        "lock_for('new').acquire(timeout=0) while the holder that entered through 'old' is inside",
    )
    holder.leave()
    again = _Holder(kit, locks, "new", name="second holder", rotate=("new", "newer"))
    _expect_same(kit, again.lock, holder.lock, "the lock a second holder got through 'new'")
    _expect_same(kit, locks.lock_for("newer"), holder.lock, "lock_for('newer') after rotate('new', 'newer', held)")
    again.leave()


@pytest.mark.rule("LK-04")
def test_lk04_rotated_lock_excludes_both_ways(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-04 (§3): a holder through ``old`` excludes callers through ``new``, and the other way round.

    First a holder enters through ``'old'`` and rotates to ``'new'``: a caller
    through ``'new'`` is refused.  Then (the lock is still alive) a holder
    enters through ``'new'``: a caller through ``'old'`` is refused, and so
    is one through ``'new'``.
    """
    locks, kit = keyed_locks, lifecycle_kit
    through_old = _Holder(kit, locks, "old", name="holder through 'old'", rotate=("old", "new"))
    kit.expect(
        _try_acquire(locks.lock_for("new")),
        False,
        "lock_for('new').acquire(timeout=0) while a holder that entered through 'old' is inside",
    )
    through_old.leave()
    through_new = _Holder(kit, locks, "new", name="holder through 'new'")
    kit.expect(
        _try_acquire(locks.lock_for("old")),
        False,
        "lock_for('old').acquire(timeout=0) while a holder that entered through 'new' is inside",
    )
    kit.expect(
        _try_acquire(locks.lock_for("new")),
        False,
        "lock_for('new').acquire(timeout=0) while a holder that entered through 'new' is inside",
    )
    through_new.leave()
    _expect_same(kit, through_new.lock, through_old.lock, "the lock of the holder through 'new'")


# -- LK-05 ----------------------------------------------------------------------


@pytest.mark.rule("LK-05")
def test_lk05_rotation_after_old_was_pruned(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-05 (§3): rotation works when ``old`` was already pruned (no ``KeyError``).

    Seed: ``test_lock_rotation_migration_survives_old_id_already_pruned``.
    ``'old'`` is used, then pruned: every reference to its lock is dropped
    and collected (a registry that holds entries weakly cannot lose a key
    any other way while its lock is referenced).  A holder inside
    ``lock_for('current')`` then calls ``rotate('old', 'new', held)``: it must
    not raise, ``lock_for('new')`` is the held lock and refuses other
    callers.  Rotating from an id the registry never saw works the same way.
    """
    locks, kit = keyed_locks, lifecycle_kit

    def use_and_drop() -> None:
        with locks.lock_for("old"):
            pass

    kit.call(use_and_drop, what="with lock_for('old'), then drop it")
    gc.collect()  # also a lock kept by a reference cycle is gone now
    holder = _Holder(kit, locks, "current", name="holder", rotate=("old", "new"))
    _expect_same(
        kit, locks.lock_for("new"), holder.lock, "lock_for('new') after rotate('old', 'new', held) with 'old' pruned"
    )
    kit.expect(
        _try_acquire(locks.lock_for("new")),
        False,
        "lock_for('new').acquire(timeout=0) while the holder is inside (rotated from a pruned 'old')",
    )
    holder.leave()
    unseen = _Holder(kit, locks, "current", name="second holder", rotate=("never-seen", "newest"))
    _expect_same(
        kit, locks.lock_for("newest"), unseen.lock, "lock_for('newest') after rotate('never-seen', 'newest', held)"
    )
    unseen.leave()


# -- LK-06 ----------------------------------------------------------------------


@pytest.mark.rule("LK-06")
def test_lk06_late_caller_on_old_gets_the_rotated_lock(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-06 (§3): no split brain — a late caller on ``old`` gets the lock of ``new``.

    A holder enters ``lock_for('old')`` and rotates to ``'new'``.  A late
    caller that still uses ``'old'`` gets the holder's lock and is refused
    while the holder is inside.  After the holder left (the lock is still
    referenced, so alive), a holder through ``'new'`` is inside and the late
    caller through ``'old'`` is refused again.
    """
    locks, kit = keyed_locks, lifecycle_kit
    holder = _Holder(kit, locks, "old", name="holder", rotate=("old", "new"))
    late = locks.lock_for("old")
    _expect_same(kit, late, holder.lock, "lock_for('old') by a late caller after rotate('old', 'new', held)")
    kit.expect(_try_acquire(late), False, "a late caller's acquire(timeout=0) through 'old' while the holder is inside")
    holder.leave()
    through_new = _Holder(kit, locks, "new", name="holder through 'new'")
    late = locks.lock_for("old")
    _expect_same(kit, late, through_new.lock, "lock_for('old') by a late caller while a holder through 'new' is inside")
    kit.expect(
        _try_acquire(late),
        False,
        "a late caller's acquire(timeout=0) through 'old' while a holder through 'new' is inside",
    )
    through_new.leave()


@pytest.mark.rule("LK-06")
def test_lk06_late_caller_waiting_on_old_excludes_new(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-06 (§3): a late caller that waits on ``old`` and gets in excludes callers on ``new``.

    A holder enters ``lock_for('old')`` and rotates to ``'new'``; a late caller
    blocks in ``with lock_for('old'):``.  Once the holder left and the late
    caller is inside, callers through ``'new'`` are refused — there is one
    lock, not one per id.
    """
    locks, kit = keyed_locks, lifecycle_kit
    holder = _Holder(kit, locks, "old", name="holder", rotate=("old", "new"))
    has_lock = kit.gate("late caller got lock_for('old')")
    late_inside = kit.gate("late caller inside lock_for('old')", closed=True)

    def late_caller() -> None:
        lock = locks.lock_for("old")
        with has_lock.passage():
            pass
        with lock, late_inside.passage():  # waits: the holder is inside
            pass

    task = kit.spawn(late_caller, what="late caller: with lock_for('old')")
    has_lock.wait_entered(1, unless=task)
    holder.gate.open()
    holder.task.result()
    late_inside.wait_entered(1, unless=task)
    kit.expect(
        _try_acquire(locks.lock_for("new")),
        False,
        "lock_for('new').acquire(timeout=0) while a late caller through 'old' is inside",
    )
    late_inside.open()
    task.result()


# -- LK-07 ----------------------------------------------------------------------


@pytest.mark.rule("LK-07")
def test_lk07_released_and_dropped_entries_disappear(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-07 (§3): once released and dropped, a lock's entries (rotated ones included) disappear.

    A holder enters ``lock_for('a')`` and rotates it to ``'b'`` and then
    ``'c'``: ``len(registry)`` counts three more entries.  Once it released
    and dropped its reference, ``len(registry)`` is back to its baseline.
    The block runs on the raw registry so that no proxy keeps the lock alive.
    """
    locks, kit = keyed_locks, lifecycle_kit
    raw = unwrap(locks)
    baseline = len(locks)

    def hold_rotate_drop() -> int:
        lock = raw.lock_for("a")
        with lock:
            raw.rotate("a", "b", lock)
            raw.rotate("b", "c", lock)
            entries: int = len(raw)
        return entries

    during = kit.call(hold_rotate_drop, what="with lock_for('a'): rotate a->b->c; then drop it")
    kit.check(
        during > baseline, f"len(registry) while lock_for('a') was held: expected more than {baseline}, got {during}"
    )
    gc.collect()  # also a lock kept by a reference cycle is gone now
    kit.expect(
        len(locks), baseline, "len(registry) once the lock of 'a' (rotated to 'b', 'c') was released and dropped"
    )


@pytest.mark.rule("LK-07")
def test_lk07_churn_returns_to_baseline(keyed_locks: Any, lifecycle_kit: Kit) -> None:
    """LK-07 (§3): churning many keys leaves ``len(registry)`` and memory near their baseline.

    ``profile.churn`` keys (10 000 in the ``ci`` profile) are used in waves of
    256 live keys, every other one rotated to a second key, after a warm-up
    round.  Afterwards ``len(registry)`` is back to its baseline and the
    memory the registry keeps grew by at most the kit's churn allowance
    (:func:`~pytest_lifecycle.support.provider_growth`: 16 bytes per key plus 128 KiB; what the
    harness keeps, log records included, is not the registry's).  The churn
    calls the raw registry in one kit call (one thread hop, one deadline).
    """
    locks, kit = keyed_locks, lifecycle_kit
    raw = unwrap(locks)
    keys = kit.profile.churn
    baseline = len(locks)

    def measure() -> tuple[int, Growth]:
        _churn(raw, "warmup", CHURN_WARMUP)
        return provider_growth(lambda: _churn(raw, "churn", keys), keys=keys)

    # One step first, under the plain timeout: a provider that hangs costs
    # one timeout, not the whole churn's bound.
    kit.call(lambda: _churn(raw, "probe", 1), what="one churn step (lock_for, acquire, release)")
    fullest, growth = kit.call(measure, what=f"churning {keys} keys", timeout=max(kit.timeout, keys / 1000))
    kit.check(
        fullest > baseline,
        f"len(registry) while {CHURN_WAVE} churned keys were alive: expected more than {baseline}, got {fullest}",
    )
    kit.expect(len(locks), baseline, f"len(registry) after churning {keys} keys (every lock released and dropped)")
    check_growth(kit, growth, f"churning {keys} keys")
