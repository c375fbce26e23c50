"""The model state machine of the checkpoint store (§2); private.

It drives one store with two sessions through save / save(skip_index) /
save(touch_updated_at=False) / mutate under ``lock_for`` / checkpointer start,
activity and stop / restart (a new store on the same directory) / load /
index, and checks every answer against a plain model:

- ``memory[sid]``: the fields of the live session object;
- ``disk[sid]``: the states that may be on disk now — exactly the last save's
  state, plus every state that existed while a checkpointer was running
  (``None`` while nothing was ever saved);
- ``own[sid]``: the entry the last *full* save of ``sid`` put in the index
  (CK-02), and ``rebuilt[sid]``: the entries it may have if every full save
  rebuilds the index from the session files on disk (``None``: may be absent).
  Which of the two the provider follows is the open choice CK/index-rebuild:
  the first ``index()`` that tells them apart records it (``kit.choice``), and
  from then on the example is checked against that branch only.

Each example gets a fresh context (a new directory); ``teardown`` stops the
checkpointers and removes it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from pytest_lifecycle import Kit
from pytest_lifecycle.support import CheckpointStores, short_repr

from ._checkpoint_support import differences, state_of

IDS = ("alpha", "beta")
#: Checkpoint interval inside the machine: short, so checkpoints race the rules.
INTERVAL = 0.002
#: The open choice a full save makes about the other sessions' entries.
INDEX_CHOICE = "CK/index-rebuild"

Entry = dict[str, Any]


def _entry(state: dict[str, Any], updated_at: float | None) -> Entry:
    """The index fields of a saved *state* (``updated_at`` ``None``: not known, not compared)."""
    return {"title": state["title"], "message_count": len(state["messages"]), "updated_at": updated_at}


def _fits(got: dict[str, Any], entry: Entry) -> bool:
    return all(value is None or got.get(name) == value for name, value in entry.items())


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


def checkpoint_machine(kit: Kit, stores: CheckpointStores) -> type[RuleBasedStateMachine]:
    """The machine class, bound to the test's kit and store builder."""

    class CheckpointStoreMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.ctx = kit.context("checkpoint_store")
            kit.restart_trace(f"a new example on {self.ctx.path.name}")
            self.store = stores.new(self.ctx)
            self.live: dict[str, Any] = {}
            self.memory: dict[str, dict[str, Any]] = {}
            self.disk: dict[str, list[dict[str, Any] | None]] = {}
            self.own: dict[str, Entry] = {}
            self.rebuilt: dict[str, list[Entry | None]] = {}
            self.checkpointers: dict[str, Any] = {}
            self.changes = 0
            for sid in IDS:
                self._create(sid)

        def _create(self, sid: str) -> None:
            self.live[sid] = self.store.create(
                sid, title=f"session {sid}", messages=[{"role": "user", "content": "hello"}]
            )
            self.memory[sid] = state_of(self.live[sid])
            self.disk[sid] = [None]

        def _may_reach_disk(self, sid: str) -> None:
            if sid in self.checkpointers and self.memory[sid] not in self.disk[sid]:
                self.disk[sid].append(self.memory[sid])

        # -- rules ------------------------------------------------------------

        @rule(sid=st.sampled_from(IDS), skip_index=st.booleans(), touch=st.booleans())
        def save(self, sid: str, skip_index: bool, touch: bool) -> None:
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
            if touch and kit.clock() > before:
                kit.check(after > before, f"{call} with the clock moved on kept updated_at at {before!r} (CK-03)")
            elif touch or racing:
                kit.check(after >= before, f"{call} moved updated_at back from {before!r} to {after!r} (CK-03)")
            else:
                kit.expect(after, before, f"updated_at after {call} (CK-03)")
            self.disk[sid] = [self.memory[sid]]
            if not skip_index:
                entry = _entry(self.memory[sid], None if racing else after)
                self.own[sid] = entry
                # A rebuild reads every other session's file as it is now.
                self.rebuilt = {
                    other: [None if state is None else _entry(state, None) for state in self.disk[other]]
                    for other in IDS
                    if other != sid and self.disk[other] != [None]
                }
                self.rebuilt[sid] = [entry]

        @rule(sid=st.sampled_from(IDS), change=st.sampled_from(sorted(CHANGES)))
        def mutate(self, sid: str, change: str) -> None:
            session = self.live[sid]
            self.changes += 1
            n = self.changes

            def block() -> dict[str, Any]:
                with self.store.lock_for(sid):
                    CHANGES[change](session, n)
                    return state_of(session)

            self.memory[sid] = kit.call(block, what=f"{change} of {sid!r} under lock_for")
            self._may_reach_disk(sid)

        @precondition(lambda self: len(self.checkpointers) < len(IDS))
        @rule(sid=st.sampled_from(IDS))
        def start_checkpointer(self, sid: str) -> None:
            if sid in self.checkpointers:
                return
            self.checkpointers[sid] = self.store.start_checkpointer(self.live[sid], interval=INTERVAL)
            self._may_reach_disk(sid)

        @precondition(lambda self: bool(self.checkpointers))
        @rule(data=st.data())
        def activity(self, data: st.DataObject) -> None:
            sid = data.draw(st.sampled_from(sorted(self.checkpointers)), label="sid")
            self.checkpointers[sid].notify_activity()

        @precondition(lambda self: bool(self.checkpointers))
        @rule(data=st.data())
        def stop(self, data: st.DataObject) -> None:
            sid = data.draw(st.sampled_from(sorted(self.checkpointers)), label="sid")
            made = self.checkpointers.pop(sid).stop()
            kit.check(made >= 0, f"stop() of the checkpointer of {sid!r} returned {made}")

        @rule(seconds=st.floats(min_value=0.001, max_value=3600, allow_nan=False))
        def advance_clock(self, seconds: float) -> None:
            kit.clock.advance(seconds)

        @rule()
        def restart(self) -> None:
            # A crashed server's threads die with it: nothing saves after this.
            self._stop_checkpointers()
            self.store = stores.restart(self.ctx)
            for sid in IDS:
                got = self._load(sid, " after a restart")
                if got is None:
                    self._create(sid)
                else:
                    self.live[sid] = got
                    self.memory[sid] = state_of(got)
                    self.disk[sid] = [self.memory[sid]]
            self.index()

        @rule(sid=st.sampled_from(IDS))
        def load(self, sid: str) -> None:
            self._load(sid, "")

        @rule()
        def index(self) -> None:
            entries: dict[str, dict[str, Any]] = {}
            for entry in self.store.index():
                sid = entry.get("session_id")
                kit.check(sid not in entries, f"index() lists {sid!r} twice")
                entries[str(sid)] = entry
            chosen = kit.choice(INDEX_CHOICE)
            own: dict[str, list[Entry | None]] = {sid: [e] for sid, e in self.own.items()}
            branches = {"own-entry": own, "rebuild": dict(self.rebuilt)}
            if chosen is not None:
                branches = {chosen: branches[chosen]}
            fitting = [b for b, model in branches.items() if self._index_fits(model, entries)]
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
                    INDEX_CHOICE, fitting[0], f"index() listed {sorted(entries)} after full saves of {sorted(self.own)}"
                )

        def _index_fits(self, model: dict[str, list[Entry | None]], entries: dict[str, dict[str, Any]]) -> bool:
            if set(entries) - set(model):
                return False
            for sid, options in model.items():
                if sid not in entries:
                    if None not in options:
                        return False
                elif not any(option is not None and _fits(entries[sid], option) for option in options):
                    return False
            return True

        # -- helpers ----------------------------------------------------------

        def _load(self, sid: str, when: str) -> Any:
            got = self.store.load(sid)
            possible = self.disk[sid]
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

    return CheckpointStoreMachine
