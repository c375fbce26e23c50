"""The model state machine of the checkpoint store (CONTRACTS.md §2); private.

It drives one store with two sessions through save / save(skip_index) /
save(touch_updated_at=False) / mutate under ``lock_for`` / checkpointer start,
activity and stop / restart (a new store on the same directory) / load /
index, and checks every answer against a plain model:

- ``memory[sid]``: the fields of the live session object;
- ``disk[sid]``: the states that may be on disk now — exactly the last save's
  state, plus every state that existed while a checkpointer was running
  (``None`` while nothing was ever saved);
- ``indexed[sid]``: the entry the last *full* save put in the index (CK-02).

Each example gets a fresh context (a new directory); ``teardown`` stops the
checkpointers and removes it.
"""

from __future__ import annotations

import shutil
from typing import Any, Callable

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from pytest_lifecycle import Kit
from pytest_lifecycle.contracts.checkpoint_store import CheckpointStores
from pytest_lifecycle.surface import short_repr

from ._checkpoint_support import differences, state_of

IDS = ("alpha", "beta")
#: Checkpoint interval inside the machine: short, so checkpoints race the rules.
INTERVAL = 0.002


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
    "retitle": _title, "append": _append, "undo": _pop, "start run": _start_run, "cancel": _cancel,
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
            self.indexed: dict[str, dict[str, Any]] = {}
            self.checkpointers: dict[str, Any] = {}
            self.changes = 0
            for sid in IDS:
                self._create(sid)

        def _create(self, sid: str) -> None:
            self.live[sid] = self.store.create(sid, title=f"session {sid}", messages=[{"role": "user", "content": "hello"}])
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
                self.indexed[sid] = {
                    "title": self.memory[sid]["title"],
                    "message_count": len(self.memory[sid]["messages"]),
                    "updated_at": None if racing else after,
                }

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
            kit.expect(sorted(entries), sorted(self.indexed), "sessions in index() (only full saves index, CK-02)")
            for sid, model in self.indexed.items():
                got = {name: entries[sid].get(name) for name in model if model[name] is not None}
                expected = {name: value for name, value in model.items() if value is not None}
                kit.expect(got, expected, f"index entry of {sid!r} (its last full save, CK-02)")

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
