"""The checkpoint store's state machine (§2); private.

It drives one store with two sessions through save / save(skip_index) /
save(touch_updated_at=False) / mutate under ``lock_for`` / checkpointer start,
activity and stop / restart (a new store on the same directory) / load /
index, and checks every answer against the sequential model
:class:`conformance.models.checkpoint_store.CheckpointModel`.

One machine, one rule per test: :meth:`CheckpointStoreMachine.configured`
names the rule whose invariants an example checks — CK-01 (what ``load``
returns), CK-02 (what ``index`` lists) or CK-03 (what a save does to
``updated_at``) — so a finding is reported under the rule it breaks.  Every
configuration drives the same steps; the model is kept for all three.

The first ``index()`` that tells the branches of CK/index-rebuild apart
records the one the provider took (``kit.observe_choice``); from then on the
example is checked against that branch only.  Each example gets a fresh
context (a new directory); ``teardown`` stops the checkpointers and removes it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from pytest_lifecycle import Kit
from pytest_lifecycle.support import CheckpointStores, short_repr

from ._checkpoint_support import differences, state_of
from .models.checkpoint_store import INDEX_CHOICE, CheckpointModel, updated_at_problem

__all__ = ["CHECKED_RULES", "CheckpointStoreMachine"]

IDS = ("alpha", "beta")
#: Checkpoint interval inside the machine: short, so checkpoints race the rules.
INTERVAL = 0.002
#: The rules whose invariants the machine can check, one per configuration.
CHECKED_RULES = ("CK-01", "CK-02", "CK-03")


def _title(s: Any, n: int) -> None:
    s.title = f"title {n}"


def _append(s: Any, n: int) -> None:
    s.messages.append({"role": "user" if n % 2 else "assistant", "content": f"message {n}"})


def _pop(s: Any, n: int) -> None:
    if s.messages:
        s.messages.pop()


def _start_run(s: Any, n: int) -> None:
    s.pending_user_message = f"pending {n}"
    s.pending_started_at = 1_700_000_000.0 + n
    s.active_stream_id = f"stream-{n}"


def _cancel(s: Any, n: int) -> None:
    s.pending_user_message = None
    s.pending_started_at = None
    s.active_stream_id = None


CHANGES: dict[str, Callable[[Any, int], None]] = {
    "retitle": _title,
    "append": _append,
    "undo": _pop,
    "start run": _start_run,
    "cancel": _cancel,
}


class CheckpointStoreMachine(RuleBasedStateMachine):
    """Steps on one store and its sessions, checked against :class:`CheckpointModel`."""

    kit: ClassVar[Kit]
    stores: ClassVar[CheckpointStores]
    #: The rule whose invariants this configuration checks (one of :data:`CHECKED_RULES`).
    checks: ClassVar[str]

    @classmethod
    def configured(cls, kit: Kit, stores: CheckpointStores, *, checks: str) -> type[CheckpointStoreMachine]:
        """This machine bound to the test's kit and store builder, checking the invariants of *checks*."""
        if checks not in CHECKED_RULES:
            raise ValueError(f"the checkpoint machine checks one of {CHECKED_RULES}, not {checks!r}")
        return type(cls.__name__, (cls,), {"kit": kit, "stores": stores, "checks": checks})

    def __init__(self) -> None:
        super().__init__()
        kit = self.kit
        self.ctx = kit.context("checkpoint_store")
        kit.restart_trace(f"a new example on {self.ctx.path.name}")
        self.store = self.stores.new(self.ctx)
        self.model = CheckpointModel(IDS)
        self.live: dict[str, Any] = {}
        self.checkpointers: dict[str, Any] = {}
        self.changes = 0
        for sid in IDS:
            self._create(sid)

    def _create(self, sid: str) -> None:
        self.live[sid] = self.store.create(sid, title=f"session {sid}", messages=[{"role": "user", "content": "hello"}])
        self.model.created(sid, state_of(self.live[sid]))

    # -- rules ------------------------------------------------------------

    @rule(sid=st.sampled_from(IDS), skip_index=st.booleans(), touch=st.booleans())
    def save(self, sid: str, skip_index: bool, touch: bool) -> None:
        kit = self.kit
        session = self.live[sid]

        def block() -> tuple[float, float]:
            with self.store.lock_for(sid):
                before = session.updated_at
                session.save(skip_index=skip_index, touch_updated_at=touch)
                return before, session.updated_at

        call = f"save(skip_index={skip_index}, touch_updated_at={touch}) of {sid!r}"
        before, after = kit.call(block, what=call + " under lock_for")
        # A running checkpointer may save (and touch) between our reads.
        racing = sid in self.checkpointers
        if self.checks == "CK-03":
            problem = updated_at_problem(before, after, touch=touch, clock_moved=kit.clock() > before, racing=racing)
            kit.check(problem is None, f"{call} {problem}")
        self.model.saved(sid, skip_index=skip_index, updated_at=None if racing else after)

    @rule(sid=st.sampled_from(IDS), change=st.sampled_from(sorted(CHANGES)))
    def mutate(self, sid: str, change: str) -> None:
        session = self.live[sid]
        self.changes += 1
        n = self.changes

        def block() -> dict[str, Any]:
            with self.store.lock_for(sid):
                CHANGES[change](session, n)
                return state_of(session)

        self.model.changed(sid, self.kit.call(block, what=f"{change} of {sid!r} under lock_for"))

    @precondition(lambda self: len(self.checkpointers) < len(IDS))
    @rule(sid=st.sampled_from(IDS))
    def start_checkpointer(self, sid: str) -> None:
        if sid in self.checkpointers:
            return
        self.checkpointers[sid] = self.store.start_checkpointer(self.live[sid], interval=INTERVAL)
        self.model.checkpointer_started(sid)

    @precondition(lambda self: bool(self.checkpointers))
    @rule(data=st.data())
    def activity(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.checkpointers)), label="sid")
        self.checkpointers[sid].notify_activity()

    @precondition(lambda self: bool(self.checkpointers))
    @rule(data=st.data())
    def stop(self, data: st.DataObject) -> None:
        sid = data.draw(st.sampled_from(sorted(self.checkpointers)), label="sid")
        # What stop() returns is CK-06's, checked by its own tests.
        self.checkpointers.pop(sid).stop()
        self.model.checkpointer_stopped(sid)

    @rule(seconds=st.floats(min_value=0.001, max_value=3600, allow_nan=False))
    def advance_clock(self, seconds: float) -> None:
        self.kit.clock.advance(seconds)

    @rule()
    def restart(self) -> None:
        # A crashed server's threads die with it: nothing saves after this.
        self._stop_checkpointers()
        self.model.restarted()
        self.store = self.stores.restart(self.ctx)
        for sid in IDS:
            got = self._load(sid, " after a restart")
            if got is None:
                self._create(sid)
            else:
                self.live[sid] = got
                self.model.loaded(sid, state_of(got))
        self.index()

    @rule(sid=st.sampled_from(IDS))
    def load(self, sid: str) -> None:
        self._load(sid, "")

    @rule()
    def index(self) -> None:
        kit = self.kit
        listed = self.store.index()
        if self.checks != "CK-02":
            return
        entries: dict[str, dict[str, Any]] = {}
        for entry in listed:
            sid = entry.get("session_id")
            kit.check(sid not in entries, f"index() lists {sid!r} twice")
            entries[str(sid)] = entry
        chosen = kit.choice(INDEX_CHOICE)
        branches = self.model.index_branches(chosen)
        fitting = [b for b, model in branches.items() if self.model.index_fits(model, entries)]
        if not fitting:
            got = {
                sid: {n: e.get(n) for n in ("title", "message_count", "updated_at")}
                for sid, e in sorted(entries.items())
            }
            expected = "; ".join(
                f"{INDEX_CHOICE} {b}: {short_repr({sid: opts for sid, opts in sorted(model.items())}, 300)}"
                for b, model in branches.items()
            )
            kit.fail(
                f"index() (only full saves index, CK-02) lists {short_repr(got, 300)}; expected, "
                f"by the entries of the last full saves (None: not known, or may be absent), {expected}"
            )
        if chosen is None and len(fitting) == 1:
            kit.observe_choice(
                INDEX_CHOICE,
                fitting[0],
                f"index() listed {sorted(entries)} after full saves of {sorted(self.model.own)}",
            )

    # -- helpers ----------------------------------------------------------

    def _load(self, sid: str, when: str) -> Any:
        kit = self.kit
        got = self.store.load(sid)
        possible = self.model.may_load(sid)
        if self.checks != "CK-01":
            return got
        if got is None:
            kit.check(None in possible, f"load({sid!r}){when} returned None after it was saved")
            return None
        state = state_of(got)
        if state not in possible:
            nearest = next((p for p in reversed(possible) if p is not None), None)
            detail = differences(state, nearest) if nearest else f"nothing was saved, got {short_repr(state)}"
            kit.fail(f"load({sid!r}){when} returned a state that was never saved: {detail}")
        return got

    def _stop_checkpointers(self) -> None:
        while self.checkpointers:
            self.checkpointers.popitem()[1].stop()

    def teardown(self) -> None:
        try:
            self._stop_checkpointers()
        finally:
            shutil.rmtree(self.ctx.path, ignore_errors=True)
