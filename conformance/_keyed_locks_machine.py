"""LK-08: the lock-rotation contract as a Hypothesis state machine (§3).

The machine *draws a schedule first and then runs it*.  Its rules do not
touch the provider: each one appends an operation for one of
:data:`THREADS` threads to the schedule and advances the sequential model
(:class:`conformance.models.keyed_locks.Model`), which says what that
operation must observe.  ``teardown`` then runs the schedule on real
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
from typing import Any, ClassVar, Final

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, multiple, precondition, rule

from pytest_lifecycle import Kit, run_machine, unwrap

from .models.keyed_locks import Held, Model, Op

__all__ = ["KEYS", "THREADS", "KeyedLocksMachine", "test_lk08_model_conformance"]

#: Schedule threads.
THREADS: Final = 3
#: Keys the schedule draws from (few, so that threads meet on them).
KEYS: Final = ("a", "b", "c", "d", "e")
THREAD_IDS: Final = st.integers(0, THREADS - 1)
KEY_NAMES: Final = st.sampled_from(KEYS)


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


class KeyedLocksMachine(RuleBasedStateMachine):
    """Draws a schedule against :class:`Model`, then runs it on a fresh registry (``teardown``)."""

    held = Bundle("held")
    kit: ClassVar[Kit]
    #: With it, garbage collections only look at the current example.
    gc_scope: ClassVar[_GcScope]

    @classmethod
    def configured(cls, kit: Kit, gc_scope: _GcScope | None = None) -> type[KeyedLocksMachine]:
        """This machine bound to the test's kit: a fresh registry per example."""
        return type(cls.__name__, (cls,), {"kit": kit, "gc_scope": gc_scope or _GcScope()})

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.schedule: list[Op] = []

    def _add(self, op: Op | None) -> None:
        if op is not None:
            self.schedule.append(op)

    @rule(target=held, thread=THREAD_IDS, key=KEY_NAMES)
    def acquire(self, thread: int, key: str) -> Any:
        op = self.model.acquire(thread, key)
        self._add(op)
        return Held(thread, op.lock, key) if op is not None and op.expect else multiple()

    @rule(held=consumes(held))
    def release(self, held: Held) -> None:
        self._add(self.model.release(held))

    @rule(held=held, new=KEY_NAMES)
    def rotate(self, held: Held, new: str) -> None:
        """The holder rotates the key it entered through (the seed's compression step)."""
        self._add(self.model.rotate(held, held.key, new))

    @rule(held=held, old=KEY_NAMES, new=KEY_NAMES)
    def rotate_from_pruned(self, held: Held, old: str, new: str) -> None:
        """The holder rotates from a key bound to nothing live: pruned, or never used."""
        if old not in self.model.bound:
            self._add(self.model.rotate(held, old, new))

    @precondition(lambda self: self.model.prunable())
    @rule(key=KEY_NAMES)
    def prune(self, key: str) -> None:
        self._add(self.model.prune(key))

    def teardown(self) -> None:
        __tracebackhide__ = True
        if not self.schedule:
            return
        kit = self.kit
        kit.restart_trace(f"a schedule of {len(self.schedule)} steps on a fresh registry")
        locks = kit.instance("keyed_locks")
        self.gc_scope.set_aside_older_objects()
        _Run(kit, locks, self.schedule).run()


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
            machine = KeyedLocksMachine.configured(lifecycle_kit, gc_scope)
            run_machine(machine, lifecycle_kit, settings=fast_shrink)
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
