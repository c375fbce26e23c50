"""LK-08: the lock-rotation contract as a Hypothesis state machine (§3).

The machine *draws a schedule first and then runs it*.  Its rules do not
touch the provider: each one appends an operation for one of
:data:`THREADS` threads to the schedule and advances a plain model of what
that operation must observe.  ``teardown`` then runs the schedule on real
threads — one kit worker per schedule thread, so every lock is acquired and
released by the thread that holds it — in exactly the drawn order: a
sequencer lets each operation start only once the one before it finished
(like trio's ``_sequencer``; nothing sleeps).  Every observation is compared
with the model as it happens; the first difference fails the rule with the
schedule up to that step, and Hypothesis prints the shrunk rule steps.

The operations, over the keys :data:`KEYS`:

- ``acquire(thread, key)``: ``lock_for(key)``, then ``acquire(timeout=0)``.
  The lock must be the model's (the very object other threads got for any
  key bound to it — LK-01, LK-04, LK-06), or, for a key bound to nothing
  live, a lock no other live key resolves to (LK-03).  The try must succeed
  exactly when no thread holds that logical lock (LK-02).  The thread keeps
  its reference whatever the outcome.
- ``release(held)``: the holder releases; it keeps its reference.
- ``rotate(held, new)``: ``rotate(key, new, lock)`` from the holder's
  thread, ``key`` being the one it entered through; afterwards ``new``
  resolves to the held lock and ``key`` keeps resolving to it (LK-04, LK-06).
- ``rotate_from_pruned(held, old, new)``: the same with an ``old`` bound to
  nothing live — pruned, or never used (LK-05).  The contract does not say
  whether such an ``old`` is bound afterwards, so the model retires it.
- ``prune(key)``: every thread drops its references to the (unheld) lock
  of ``key``; its entries must disappear (LK-07).

After every operation ``len(registry)`` must equal the model's number of
entries: keys bound to a live lock, rotated aliases included.  A lock is
*live* while some thread references it — that is when identity must hold.
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass, field
from typing import Any, Final

import pytest

from pytest_lifecycle import Kit, run_machine, unwrap

__all__ = ["KEYS", "THREADS", "keyed_locks_machine", "test_lk08_model_conformance"]

#: Schedule threads.
THREADS: Final = 3
#: Keys the schedule draws from (few, so that threads meet on them).
KEYS: Final = ("a", "b", "c", "d", "e")


@dataclass(frozen=True)
class Held:
    """A lock a schedule thread holds (the machine's ``held`` bundle)."""

    thread: int
    lock: int
    key: str

    def __repr__(self) -> str:
        return f"Held(T{self.thread}, L{self.lock} via {self.key!r})"


@dataclass
class Op:
    """One scheduled operation and what the model says it must observe."""

    thread: int
    kind: str
    lock: int
    key: str = ""
    new: str = ""
    #: ``acquire``: the key was bound to nothing live, so the lock is new.
    fresh: bool = False
    #: ``acquire``: what ``acquire(timeout=0)`` must return.
    expect: bool = False
    #: ``acquire`` of a fresh key: the live locks it must not be.
    others: frozenset[int] = frozenset()
    #: The range ``len(registry)`` must be in afterwards.
    entries: tuple[int, int] = (0, 0)
    #: The model's bindings afterwards, for failure messages.
    bindings: str = ""

    def __str__(self) -> str:
        who = f"T{self.thread}"
        if self.kind == "acquire":
            lock = f"L{self.lock}" + (" (new)" if self.fresh else "")
            return f"{who} lock_for({self.key!r}).acquire(timeout=0) -> {self.expect} [{lock}]"
        if self.kind == "release":
            return f"{who} release L{self.lock}"
        if self.kind == "rotate":
            return f"{who} rotate({self.key!r}, {self.new!r}, L{self.lock})"
        return f"{who} prune L{self.lock} (every reference dropped)"


@dataclass
class Model:
    """Which key resolves to which logical lock, who holds it, who references it."""

    bound: dict[str, int] = field(default_factory=dict)
    #: Keys rotated away from while bound to nothing live: may or may not be
    #: bound to that lock now, so they are never used again.
    retired: dict[str, int] = field(default_factory=dict)
    holder: dict[int, int | None] = field(default_factory=dict)
    refs: dict[int, set[int]] = field(default_factory=dict)
    next_lock: int = 1

    def entries(self) -> tuple[int, int]:
        maybe = sum(1 for lock in self.retired.values() if lock in self.refs)
        return len(self.bound), len(self.bound) + maybe

    def bindings(self) -> str:
        by_lock: dict[int, list[str]] = {}
        for key, lock in sorted(self.bound.items()):
            by_lock.setdefault(lock, []).append(key)
        parts = []
        for lock, keys in sorted(by_lock.items()):
            holder = self.holder[lock]
            held = f" held by T{holder}" if holder is not None else ""
            parts.append(f"{','.join(repr(k) for k in keys)}->L{lock}{held}")
        return "; ".join(parts) or "no entries"


class _Mismatch(Exception):
    """An observation that differs from the model."""


class _Hung(BaseException):
    """A schedule the provider never finished: stop the machine, do not shrink.

    Every shrink attempt would wait the kit timeout on a provider that hangs
    again, so this escapes Hypothesis (like pytest's ``Exit``, it is not an
    ``Exception``) and :func:`test_lk08_model_conformance` reports it as is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Run:
    """Runs a schedule on one kit worker per thread, one operation at a time, in order."""

    def __init__(self, kit: Kit, locks: Any, ops: list[Op]) -> None:
        self.kit = kit
        self.locks = locks
        self.ops = ops
        self.baseline = len(locks)
        #: thread -> {logical lock: the guarded lock it got} (its references).
        self.handles: list[dict[int, Any]] = [{} for _ in range(THREADS)]
        self.cond = threading.Condition()
        self.turn = 0
        self.failure: tuple[int, str] | None = None
        self.hung = False

    def run(self) -> None:
        __tracebackhide__ = True
        threads = sorted({op.thread for op in self.ops})
        tasks = [self.kit.spawn(self._thread, t, what=f"schedule thread T{t}") for t in threads]
        for task in tasks:
            task.wait(self.kit.timeout)
        if not all(task.done for task in tasks):
            self._fail_hung(self.turn)
        for task in tasks:
            if task.done:
                task.result()  # an error of the kit itself (not a mismatch) surfaces here
        if self.failure is None:
            return
        step, problem = self.failure
        shown = [f"{i + 1}. {op}" for i, op in enumerate(self.ops[: step + 1])]
        shown[-1] += " <- here"
        message = (
            f"step {step + 1} of {len(self.ops)}, {self.ops[step]}: {problem}; "
            f"model before the step: {self.ops[step - 1].bindings if step else 'no entries'}; "
            f"schedule (with what the model expects): {'; '.join(shown)}"
        )
        if self.hung:
            raise _Hung(message)
        self.kit.fail(message)

    def _fail(self, step: int, problem: str) -> None:
        with self.cond:
            if self.failure is None:
                self.failure = (step, problem)
            self.cond.notify_all()

    def _fail_hung(self, step: int) -> None:
        with self.cond:
            self.hung = self.hung or self.failure is None
            self._fail(step, f"did not finish within {self.kit.timeout:g}s (the provider hung)")

    def _thread(self, thread: int) -> None:
        for step, op in enumerate(self.ops):
            if op.thread != thread:
                continue
            with self.cond:
                if not self.cond.wait_for(lambda: self.turn == step or self.failure is not None, self.kit.timeout):
                    self._fail_hung(self.turn)
                if self.failure is not None:
                    return
            try:
                self._execute(op)
                self._check_entries(op)
            except _Mismatch as exc:
                self._fail(step, str(exc))
                return
            except Exception as exc:
                self._fail(step, f"raised {type(exc).__name__}: {exc}")
                return
            with self.cond:
                self.turn = step + 1
                self.cond.notify_all()

    def _reference(self, lock: int) -> Any:
        """The provider's object for a live logical lock (some thread references it)."""
        return next(unwrap(h[lock]) for h in self.handles if lock in h)

    def _execute(self, op: Op) -> None:
        mine = self.handles[op.thread]
        if op.kind == "acquire":
            lock = self.locks.lock_for(op.key)
            raw = unwrap(lock)
            if op.fresh:
                for other in sorted(op.others):
                    if self._reference(other) is raw:
                        raise _Mismatch(
                            f"expected a new lock ({op.key!r} is bound to nothing live), got L{other}, "
                            "the live lock of other keys"
                        )
            elif raw is not self._reference(op.lock):
                raise _Mismatch(f"expected L{op.lock}, the live lock {op.key!r} is bound to, got a different lock")
            got = lock.acquire(timeout=0)
            mine[op.lock] = lock
            if got is not op.expect:
                if got:
                    lock.release()
                raise _Mismatch(f"acquire(timeout=0): expected {op.expect}, got {got}")
        elif op.kind == "release":
            mine[op.lock].release()
        elif op.kind == "rotate":
            self.locks.rotate(op.key, op.new, mine[op.lock])
        else:
            for handles in self.handles:
                handles.pop(op.lock, None)

    def _check_entries(self, op: Op) -> None:
        low, high = op.entries
        got = len(self.locks) - self.baseline
        if not low <= got <= high and op.kind == "prune":
            gc.collect()  # the lock may be kept by a reference cycle until collected
            got = len(self.locks) - self.baseline
        if not low <= got <= high:
            want = f"{low}" if low == high else f"{low} to {high}"
            raise _Mismatch(f"len(registry): expected {want}, got {got} (the model's entries: {op.bindings})")


def keyed_locks_machine(kit: Kit, gc_scope: _GcScope | None = None) -> type[Any]:
    """The LK-08 machine class for *kit*: a fresh registry per example.

    Built per kit (like Hypothesis' ``_database_conforms_to_listener_api``)
    so that the rules stay plain methods of a plain model.  With a
    *gc_scope*, garbage collections only look at the current example.
    """
    scope = gc_scope or _GcScope()
    from hypothesis import strategies as st
    from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, multiple, precondition, rule

    threads = st.integers(0, THREADS - 1)
    keys = st.sampled_from(KEYS)

    class KeyedLocksMachine(RuleBasedStateMachine):
        held = Bundle("held")

        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            self.schedule: list[Op] = []

        def _add(self, op: Op) -> None:
            op.entries = self.model.entries()
            op.bindings = self.model.bindings()
            self.schedule.append(op)

        @rule(target=held, thread=threads, key=keys)
        def acquire(self, thread: int, key: str) -> Any:
            m = self.model
            if key in m.retired:
                return multiple()
            lock = m.bound.get(key)
            if lock is not None and m.holder[lock] == thread:
                return multiple()  # a re-entrant try: the contract leaves it open
            fresh = lock is None
            others = frozenset(m.refs)
            if lock is None:
                lock, m.next_lock = m.next_lock, m.next_lock + 1
                m.bound[key], m.holder[lock], m.refs[lock] = lock, None, set()
            got = m.holder[lock] is None
            m.refs[lock].add(thread)
            if got:
                m.holder[lock] = thread
            self._add(Op(thread, "acquire", lock, key, fresh=fresh, expect=got, others=others))
            return Held(thread, lock, key) if got else multiple()

        @rule(held=consumes(held))
        def release(self, held: Held) -> None:
            self.model.holder[held.lock] = None
            self._add(Op(held.thread, "release", held.lock, held.key))

        @rule(held=held, new=keys)
        def rotate(self, held: Held, new: str) -> None:
            """The holder rotates the key it entered through (the seed's compression step)."""
            self._rotate(held, held.key, new)

        @rule(held=held, old=keys, new=keys)
        def rotate_from_pruned(self, held: Held, old: str, new: str) -> None:
            """The holder rotates from a key bound to nothing live: pruned, or never used."""
            if old not in self.model.bound:
                self._rotate(held, old, new)

        def _rotate(self, held: Held, old: str, new: str) -> None:
            m = self.model
            if old in m.retired or new in m.retired or m.bound.get(new, held.lock) != held.lock:
                return  # new is another live lock's key: the contract leaves it open
            if old not in m.bound and old != new:
                m.retired[old] = held.lock
            m.bound[new] = held.lock
            self._add(Op(held.thread, "rotate", held.lock, old, new))

        @precondition(lambda self: any(holder is None for holder in self.model.holder.values()))
        @rule(key=keys)
        def prune(self, key: str) -> None:
            m = self.model
            lock = m.bound.get(key)
            if lock is None or m.holder[lock] is not None:
                return
            thread = min(m.refs[lock])
            for k in [k for k, v in m.bound.items() if v == lock]:
                del m.bound[k]
            del m.holder[lock], m.refs[lock]
            self._add(Op(thread, "prune", lock, key))

        def teardown(self) -> None:
            __tracebackhide__ = True
            if not self.schedule:
                return
            kit.restart_trace(f"a schedule of {len(self.schedule)} steps on a fresh registry")
            locks = kit.instance("keyed_locks")
            scope.set_aside_older_objects()
            _Run(kit, locks, self.schedule).run()

    return KeyedLocksMachine


@pytest.mark.rule("LK-08")
def test_lk08_model_conformance(lifecycle_kit: Kit) -> None:
    """LK-08 (§3): model conformance under random schedules across threads.

    Hypothesis draws a schedule of acquire/release/rotate/prune operations
    for three threads over five keys, then the kit runs it on real threads in
    the drawn order and compares every observation — which lock
    ``lock_for(key)`` returns, whether ``acquire(timeout=0)`` gets in, what
    ``len(registry)`` counts — with a sequential model.  A violation reports
    the step, the model's bindings and the schedule, and Hypothesis prints
    the shrunk steps and a replay command.
    """
    from hypothesis import Phase, settings

    # Hypothesis' explain phase traces every line of every shrink attempt
    # (sys.settrace before 3.12) to point at the kit's own code; the failure
    # message already names the step, so shrinking runs without it.
    profile = lifecycle_kit.profile.hypothesis_settings()
    fast_shrink = settings(profile, phases=[p for p in profile.phases if p is not Phase.explain])
    with _GcScope() as gc_scope:
        try:
            run_machine(keyed_locks_machine(lifecycle_kit, gc_scope), lifecycle_kit, settings=fast_shrink)
        except _Hung as hung:
            lifecycle_kit.fail(f"{hung.message} (not shrunk: every attempt would hang again)")


class _GcScope:
    """Keep ``gc.collect()`` cheap while a machine runs: set older objects aside.

    A prune whose entries linger collects garbage before it fails (a lock
    may sit in a reference cycle).  A full collection of the test process
    takes tens of milliseconds, and shrinking a failure runs hundreds of
    schedules; objects that existed before the current example cannot hold
    one of its locks, so :meth:`set_aside_older_objects` freezes them
    (``gc.freeze``) and leaving the scope unfreezes everything.  If someone
    else froze objects already, the scope does nothing.
    """

    def __init__(self) -> None:
        self.owned = False

    def __enter__(self) -> _GcScope:
        self.owned = gc.get_freeze_count() == 0
        return self

    def set_aside_older_objects(self) -> None:
        if self.owned:
            gc.freeze()

    def __exit__(self, *exc: object) -> None:
        if self.owned:
            gc.unfreeze()
            self.owned = False
