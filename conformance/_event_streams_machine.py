"""ST-13: the stream-resume contract as a Hypothesis state machine (§4).

Each rule is one step on the provider, run on the kit's event loop and
compared with the sequential model (:mod:`conformance.models.event_streams`)
once the loop is idle: ``get_or_create``, ``get``, ``delete``, ``emit`` (with
or without ``close=True``), ``close``, ``subscribe(after=...)``, a read of a
subscriber, a move of the kit's clock and -- for a provider that claims
``durable`` -- a restart (a new instance on the same directory, the old one
left as it is).

After *every* step each started read is looked at: a read that finished
must have yielded what the model allows next (the next event after the
subscriber's position, in order, with no duplicate and no gap, or the end
of a closed stream); a read still waiting must have nothing to wait for --
a waiting read whose event was emitted is a missed event.

Expiry (ST-09) makes some outcomes open, and the model says exactly which:
an event that expired before the subscriber attached must not be delivered,
one that has not expired must be, one in between may be.  When a
subscriber attaches (open choice ``ST/attach``) is followed: a delivered
event that had expired before the first read but not at ``subscribe()``
shows ``at-call``.  A closed stream whose last event expired but whose
close did not yet is either closed or gone: the machine leaves such a
stream alone until it is surely gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from pytest_lifecycle import Kit, RuleViolation, run_machine
from pytest_lifecycle.support import TTL_SECONDS, LoopHung, Stream, StreamRegistry, Streams, Subscriber, event

from ._event_streams_support import GONE_OR_NOT_FOUND
from .models.event_streams import Ev, Incarnation, candidates, classify, state_of

__all__ = ["IDS", "EventStreamsMachine", "test_st13_model_conformance"]

#: Stream ids the machine draws from (few, so that steps meet on them).
IDS: Final = ("a", "b")
#: Clock moves: within the TTL, and past it.
ADVANCES: Final = (1, 20, 61)
#: Subscribers alive at once, at most.
MAX_SUBSCRIBERS: Final = 4
#: Draws a stream id.
STREAM_IDS: Final = st.sampled_from(IDS)
#: after=: everything, from the start, or relative to the last cursor.
AFTERS: Final = st.sampled_from([None, 0, -3, -1, 2])


@dataclass
class Sub:
    sub: Subscriber
    stream_id: str
    life: Incarnation
    after: int | None
    called_at: float
    position: int | None = None
    first_read_at: float | None = None

    def candidates(self) -> list[Ev]:
        return candidates(self.life, self.position)


class _Hung(BaseException):
    """A hang inside an example: stop, do not shrink (each attempt would hang again)."""

    def __init__(self, violation: RuleViolation) -> None:
        super().__init__(str(violation))
        self.violation = violation


class EventStreamsMachine(RuleBasedStateMachine):
    """Steps on a registry, run on the kit's loop and checked against the model after each."""

    kit: ClassVar[Kit]
    streams: ClassVar[Streams]
    #: The provider claims ``durable`` (restarts) / ``tombstones`` (deleted ids answer ``gone``).
    durable: ClassVar[bool]
    tombstones: ClassVar[bool]

    @classmethod
    def configured(cls, kit: Kit, streams: Streams) -> type[EventStreamsMachine]:
        """This machine bound to the test's kit and streams, with the provider's capabilities."""
        flags = {f: kit.provider.claims_capability(f) for f in ("durable", "tombstones")}
        return type(cls.__name__, (cls,), {"kit": kit, "streams": streams, **flags})

    def __init__(self) -> None:
        super().__init__()
        self.registry: StreamRegistry | None = None
        self.lives: dict[str, Incarnation] = {}
        self.handles: dict[str, tuple[Stream, Incarnation]] = {}
        self.subs: list[Sub] = []
        self.restarted = False
        self.count = 0

    # -- plumbing -------------------------------------------------------------

    @initialize(
        history=st.lists(st.integers(0, 4), min_size=len(IDS), max_size=len(IDS)),
        subscribers=st.lists(st.tuples(STREAM_IDS, AFTERS, st.booleans()), max_size=3),
    )
    def start(self, history: list[int], subscribers: list[tuple[str, int | None, bool]]) -> None:
        """A fresh registry with both streams, some events, and subscribers (reading or not)."""
        self.kit.restart_trace("a fresh registry")
        self.registry = self._guard(self.streams.new)
        for stream_id, events in zip(IDS, history):
            self.get_or_create(stream_id)
            if events:
                self.emit(stream_id, [1] * events)
        for stream_id, after, read_now in subscribers:
            self._subscribe(stream_id, after, read_now=read_now)
        self.restarted = False

    def _guard(self, step: Any, *args: Any) -> Any:
        try:
            return step(*args)
        except LoopHung as hung:
            raise _Hung(hung) from None

    @property
    def now(self) -> float:
        return self.kit.clock()

    def _state(self, stream_id: str) -> str:
        """``never``, ``deleted``, ``expired``, ``open``, ``closed`` or ``active`` (:func:`state_of`)."""
        return state_of(self.lives.get(stream_id), self.now)

    def _drop_subs(self, keep: Any = lambda s: False) -> None:
        for s in [s for s in self.subs if not keep(s)]:
            s.sub.cancel()
            self.subs.remove(s)

    def _expect_kinds(self, kinds: tuple[str, ...], call: Any, what: str) -> str:
        return self._guard(self.streams.raises, kinds, call, what)  # type: ignore[no-any-return]

    # -- registry steps -------------------------------------------------------

    @rule(stream_id=STREAM_IDS, call=st.sampled_from(["get_or_create", "get", "delete", "get_or_create", "get"]))
    def registry_call(self, stream_id: str, call: str) -> None:
        getattr(self, call)(stream_id)

    def get_or_create(self, stream_id: str) -> None:
        state = self._state(stream_id)
        if state == "open":
            return
        assert self.registry is not None
        handle = self._guard(self.registry.get_or_create, stream_id)
        if state in ("never", "deleted", "expired"):
            old = self.lives.get(stream_id)
            self.lives[stream_id] = Incarnation(old.number + 1 if old else 1, TTL_SECONDS)
            self._drop_subs(keep=lambda s: s.stream_id != stream_id)
        life = self.lives[stream_id]
        self.handles[stream_id] = (handle, life)
        what = f"{handle}.last_cursor() after get_or_create ({'a fresh stream' if life.last is None else 'the existing stream'})"
        self.kit.expect(self._guard(handle.last_cursor), life.last, what)

    def get(self, stream_id: str) -> None:
        state = self._state(stream_id)
        assert self.registry is not None
        registry = self.registry
        if state == "open":
            return
        if state == "never":
            self._expect_kinds(
                ("not_found",), lambda: registry.get(stream_id), f"{registry}.get({stream_id!r}) of an unknown id"
            )
        elif state in ("deleted", "expired"):
            kinds = ("gone",) if self.tombstones and state == "deleted" and not self.restarted else GONE_OR_NOT_FOUND
            self._expect_kinds(
                kinds, lambda: registry.get(stream_id), f"{registry}.get({stream_id!r}) of a {state} stream"
            )
        else:
            handle = self._guard(registry.get, stream_id)
            life = self.lives[stream_id]
            self.handles[stream_id] = (handle, life)
            self.kit.expect(self._guard(handle.last_cursor), life.last, f"{handle}.last_cursor() after get")

    def delete(self, stream_id: str) -> None:
        state = self._state(stream_id)
        assert self.registry is not None
        registry = self.registry
        if state == "open":
            return
        if state == "never":
            try:
                self._guard(registry.delete, stream_id)
            except RuleViolation:
                raise
            except Exception as exc:  # deleting what never existed: success or not found
                if self.streams.errors.kind_of(exc) != "not_found":
                    self.kit.fail(
                        f"{registry}.delete({stream_id!r}) of an unknown id raised {type(exc).__name__}: {exc}"
                    )
            return
        self._guard(registry.delete, stream_id)  # idempotent: never raises for a known id
        self.lives[stream_id].deleted = True
        self._drop_subs(keep=lambda s: s.stream_id != stream_id)

    # -- stream steps ---------------------------------------------------------

    def _handle(self, stream_id: str) -> tuple[Stream, Incarnation] | None:
        found = self.handles.get(stream_id)
        if found is None or found[1] is not self.lives.get(stream_id) or self._state(stream_id) == "open":
            return None  # no handle on this life of the id
        return found

    @rule(stream_id=STREAM_IDS, gaps=st.lists(st.integers(1, 3), min_size=1, max_size=5))
    def emit(self, stream_id: str, gaps: list[int]) -> None:
        for gap in gaps:
            self._emit(stream_id, gap, close=False)

    def _emit(self, stream_id: str, gap: int, *, close: bool) -> None:
        found = self._handle(stream_id)
        if found is None:
            return
        handle, life = found
        state = self._state(stream_id)
        self.count += 1
        seq = (life.last or 0) + gap
        payload = event(seq, f" #{self.count} of {stream_id}@{life.number}")
        what = f"{handle}.emit(cursor {seq}{', close=True' if close else ''}) on a {state} stream"
        if state == "active":
            self._guard(lambda: handle.emit(payload, close=close))
            life.events.append(Ev(seq, self.now, payload, TTL_SECONDS))
            if close:
                life.closed_at = self.now
            self.reads_match_the_model()  # each event of a burst is checked as it goes out
            return
        kinds = {"closed": ("closed",), "deleted": GONE_OR_NOT_FOUND}.get(state, ("closed", *GONE_OR_NOT_FOUND))
        self._expect_kinds(kinds, lambda: handle.emit(payload, close=close), what)

    @rule(stream_id=STREAM_IDS, last=st.one_of(st.none(), st.integers(1, 3)), now=st.integers(0, 2))
    def close(self, stream_id: str, last: int | None, now: int) -> None:
        """``close()``, or ``emit(x, close=True)`` with a *last* event."""
        if now:
            return  # drawn 1 time in 3: closed streams have little left to deliver
        if last is not None:
            return self._emit(stream_id, last, close=True)
        found = self._handle(stream_id)
        if found is None:
            return
        handle, life = found
        state = self._state(stream_id)
        if state in ("active", "closed"):
            self._guard(handle.close)
            life.closed_at = self.now if life.closed_at is None else life.closed_at
            return
        try:  # the contract says nothing of closing a deleted stream: any clean outcome
            self._guard(handle.close)
        except RuleViolation:
            raise
        except Exception as exc:
            if self.streams.errors.kind_of(exc) is None:
                self.kit.fail(f"{handle}.close() on a {state} stream raised {type(exc).__name__}: {exc}")

    @precondition(lambda self: len(self.subs) < MAX_SUBSCRIBERS)
    @rule(stream_id=STREAM_IDS, after=AFTERS)
    def subscribe(self, stream_id: str, after: int | None) -> None:
        """``subscribe(after=...)`` around the end of the stream; the first read comes later."""
        self._subscribe(stream_id, after, read_now=False)

    @precondition(lambda self: len(self.subs) < MAX_SUBSCRIBERS)
    @rule(stream_id=STREAM_IDS, after=AFTERS)
    def subscribe_reading(self, stream_id: str, after: int | None) -> None:
        """``subscribe(after=...)`` and a read at once: what follows is live."""
        self._subscribe(stream_id, after, read_now=True)

    def _subscribe(self, stream_id: str, after: int | None, *, read_now: bool) -> None:
        found = self._handle(stream_id)
        if found is None:
            return
        handle, life = found
        state = self._state(stream_id)
        if after is not None and after != 0:
            after += life.last or 0  # around the end of the stream: behind it, at it, beyond it
        if state == "deleted":
            self._expect_kinds(
                GONE_OR_NOT_FOUND,
                lambda: handle.subscribe(after),
                f"{handle}.subscribe(after={after}) on a deleted stream (at the call)",
            )
            return
        try:
            sub = self._guard(handle.subscribe, after)
        except RuleViolation:
            raise
        except Exception as exc:
            if state != "expired" or self.streams.errors.kind_of(exc) not in GONE_OR_NOT_FOUND:
                raise
            return
        self.subs.append(Sub(sub, stream_id, life, after, self.now, position=after))
        if read_now:  # else the first read comes later: events meanwhile are history or live
            self.read(len(self.subs) - 1)

    @precondition(lambda self: bool(self.subs))
    @rule(index=st.integers(0, MAX_SUBSCRIBERS - 1))
    def read(self, index: int) -> None:
        s = self.subs[index % len(self.subs)]
        if s.sub.current is None:
            if s.first_read_at is None:
                s.first_read_at = self.now
            self._guard(s.sub.read)

    @rule(seconds=st.sampled_from(ADVANCES))
    def advance(self, seconds: int) -> None:
        self.kit.clock.advance(seconds)
        self.kit.note(f"clock +{seconds}s")

    @precondition(lambda self: self.durable)
    @rule(now=st.integers(0, 3))
    def restart(self, now: int) -> None:
        if now:
            return  # drawn 1 time in 4
        assert self.registry is not None
        self._drop_subs()
        self.handles.clear()
        self.restarted = True
        self.registry = self._guard(self.streams.restart, self.registry)
        # The restarted server finds its streams again (ST-10: same events, same state).
        for stream_id in IDS:
            if self._state(stream_id) in ("active", "closed"):
                self.get(stream_id)

    # -- after every step -----------------------------------------------------

    @invariant()
    def reads_match_the_model(self) -> None:
        if self.registry is None:
            return
        self._guard(self.streams.settle)
        for s in list(self.subs):
            if s.sub.current is not None:
                self._check(s)
        # A subscriber once read keeps a read waiting: every later emit
        # is then checked as a live event.
        for s in list(self.subs):
            if s.first_read_at is not None and s.sub.current is None:
                self._guard(s.sub.read)
                self._check(s)

    def _classify(self, s: Sub, e: Ev) -> str:
        """``must``, ``may``, ``at-call`` (only if attached at the call) or ``never`` (:func:`classify`)."""
        attach = self.kit.choice("ST/attach")
        return classify(e, called_at=s.called_at, first_read_at=s.first_read_at, now=self.now, attach=attach)

    def _check(self, s: Sub) -> None:
        read = s.sub.current
        assert read is not None
        state = self._state(s.stream_id) if self.lives.get(s.stream_id) is s.life else "deleted"
        musts = [e.seq for e in s.candidates() if self._classify(s, e) == "must"]
        where = f"(position {s.position}, model: {[e.seq for e in s.life.events]}, {state})"
        if not read.done:
            if musts:
                self.kit.fail(
                    f"{s.sub}: the read is still waiting (the loop is idle) though cursor {musts[0]} "
                    f"was emitted {where}"
                )
            if state == "closed":
                self.kit.fail(f"{s.sub}: the read is still waiting on a closed stream with nothing left {where}")
            return
        kind, value = read.outcome()
        self.kit.note(f"{s.sub}: next {read.describe()}")
        s.sub.current = None
        if kind == "end":
            if s.life.closed_at is None or musts:
                self.kit.fail(
                    f"{s.sub}: ended, expected {'cursor ' + str(musts[0]) if musts else 'it to wait'} {where}"
                )
            self.subs.remove(s)
            return
        if kind == "error":
            if state in ("expired", "open") and self.streams.errors.kind_of(value) in GONE_OR_NOT_FOUND:
                self.subs.remove(s)
                return
            self.kit.fail(f"{s.sub}: raised {type(value).__name__}: {value} {where}")
        seq = value.get("seq") if isinstance(value, dict) else None
        match = next((e for e in s.candidates() if e.seq == seq), None)
        if match is None or match.payload != value:
            self.kit.fail(
                f"{s.sub}: yielded {value!r}, not an event after position {s.position} of this stream {where}"
            )
        skipped = [e.seq for e in s.candidates() if e.seq < match.seq and self._classify(s, e) == "must"]
        if skipped:
            self.kit.fail(f"{s.sub}: yielded cursor {match.seq} and skipped {skipped} {where}")
        verdict = self._classify(s, match)
        if verdict == "never":
            self.kit.fail(f"{s.sub}: yielded cursor {match.seq}, which expired before the subscriber attached {where}")
        if verdict == "at-call":
            self.kit.observe_choice(
                "ST/attach",
                "at-call",
                f"{s.sub} got cursor {match.seq}, fresh at subscribe() and expired at the first read",
            )
        s.position = match.seq

    def teardown(self) -> None:
        try:
            self._drain()
        finally:
            self._drop_subs()

    def _drain(self) -> None:
        """At the end, every subscriber reads on until it waits or ends: nothing may be missing."""
        if self.registry is None:
            return
        for s in list(self.subs):
            for _ in range(64):
                if s not in self.subs or (s.sub.current is not None and not s.sub.current.done):
                    break
                if s.sub.current is None:
                    if s.first_read_at is None:
                        s.first_read_at = self.now
                    self._guard(s.sub.read)
                self._check(s)


@pytest.mark.rule("ST-13")
def test_st13_model_conformance(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-13 Model conformance: random emit/close/delete/subscribe(after)/read/clock/restart steps against a model.

    Every step runs on the kit's loop; after each, every started read is
    checked against a sequential model (what it may yield next, whether it
    may still wait).  A violation names the subscriber, its position and the
    model's events; Hypothesis prints the shrunk steps and a replay command.
    """
    from hypothesis import Phase, settings

    profile = lifecycle_kit.profile.hypothesis_settings()
    fast_shrink = settings(profile, phases=[p for p in profile.phases if p is not Phase.explain])
    try:
        machine = EventStreamsMachine.configured(lifecycle_kit, event_streams)
        run_machine(machine, lifecycle_kit, settings=fast_shrink)
    except _Hung as hung:
        hung.violation.add_note("not shrunk: every attempt would hang again")
        raise hung.violation from None
