"""LC-17: the session lifecycle against a sequential model (CONTRACTS.md §1a).

:func:`session_lifecycle_machine` builds a Hypothesis ``RuleBasedStateMachine``
from a factory of fresh coordinators plus keyword flags for optional
behaviour, the way Hypothesis's own ``_database_conforms_to_listener_api``
does.  Each example drives two session ids and three agent doubles through
every call of the surface — bursts of turns with mixed owners, (un)registered
handles, commits that succeed or fail, with or without an explicit agent,
waiting or not; a commit held inside the provider and later released to
succeed or fail, met by a ``wait=False`` commit, a ``wait=True`` commit or a
drain; drains, discards and (with ``eviction``) evictions — and compares with
:class:`SessionModel`:

* after every step, ``has_uncommitted_work`` of each session agrees with the
  model, and each agent has been called (and closed) exactly as often as the
  model predicts;
* each provider call flushes the segment the model says, with its owner, so
  every completed turn is committed exactly once, by its owner.

The model follows the brief, and the reference where the brief leaves a
choice: an agent passed to ``mark_turn_completed`` owns that turn only; a
replacement registration owns new turns at once; turns completed while a
commit is in flight join the running segment when they have its owner; an
explicit agent at commit adopts un-owned work (the oldest segment only, merged
with the next one if that is the same agent's); ``discard_session`` of a clean
session forgets it, handle included.  Steps whose outcome the brief leaves
open are not generated: failures are only injected into commits the machine
starts itself, never into a drain or an eviction.

Shape of the search.  Hypothesis switches rules off per example (swarm
testing), so a bug that needs k rules shows up in about 1/(k+1) of the
examples; the rules are therefore few and productive.  Turns come in bursts
with mixed owners (one step can build several segments), drains and
evictions share one ``boundary`` rule (flushing everything stays rarer than
building state), and an example starts with the first session registered and
the second without a handle, so owned and un-owned work both occur early.

Hangs.  While a commit is held, every call the machine makes in between is
bounded by the kit's ``prompt`` (the held commit is released only after it
returns, so a call that waits for it would never end); other calls by the
kit timeout.  A drain or a ``wait=True`` commit meeting the held commit is
released only once its thread has parked (:func:`start_call`).  A call that
does not come back stops the machine at once with ``[LC-17] provider …
still inside …``: it is not shrunk, since every shrink attempt would wait
the whole bound on a provider that hangs again.

This module is private (not collected); :mod:`conformance.session_lifecycle`
re-exports :func:`test_lc17_model_conformance`.
"""

from __future__ import annotations

import functools
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Final, Iterator

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule

from pytest_lifecycle import GatedAgent, Kit, ProviderHung, RuleViolation, Task, run_machine, unwrap
from pytest_lifecycle.parking import check_still_waiting as _check_still_waiting
from pytest_lifecycle.parking import WatchedTask, spawn_watched
from pytest_lifecycle.surface import short_repr

__all__ = [
    "SessionModel",
    "call_text",
    "check_still_waiting",
    "session_lifecycle_machine",
    "spawn_call",
    "start_call",
    "test_lc17_model_conformance",
]

#: The session ids every example drives.
SIDS: Final = ("s1", "s2")
#: Agents per example.
AGENTS: Final = 3
#: How a held commit ends: released to succeed or to fail, with a commit
#: waiting for it (``wait=True``), or under a shutdown drain.
ENDINGS: Final = ("release", "release-fail", "waiting", "waiting-fail", "drain")
#: What the invariant asks after every step (named in a hang message).
QUERY: Final = ", ".join(f"has_uncommitted_work({sid!r})" for sid in SIDS)


def call_text(obj: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """How a call of the guarded *obj* reads in trace lines and failure messages."""
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"{obj!r}.{method}({', '.join(parts)})"


def spawn_call(kit: Kit, obj: Any, method: str, *args: Any, **kwargs: Any) -> WatchedTask[Any]:
    """Spawn the guarded ``obj.method(*args, **kwargs)`` on a kit worker watched for parking.

    The guarded method runs inline on the watched worker, so the call is
    still traced and its result checked (see :mod:`pytest_lifecycle.parking`).
    """
    # Bound into a partial: the provider's own keywords (``timeout=``) must
    # not reach the runner's.
    call = functools.partial(getattr(obj, method), *args, **kwargs)
    return spawn_watched(kit.runner, call, what=call_text(obj, method, args, kwargs))


def start_call(kit: Kit, obj: Any, method: str, *args: Any, **kwargs: Any) -> WatchedTask[Any]:
    """Spawn the guarded ``obj.method(*args, **kwargs)``; return once it has parked or finished.

    For a call that must wait for a commit held in the provider (a drain, an
    eviction, ``wait=True``): this returns only once the call's thread is
    blocked in a lock, condition, queue or sleep -- waiting, as a correct
    provider does -- or the call has finished, which
    :func:`check_still_waiting` then reports.  The test releases the held
    commit only after that, so a provider that does not wait is caught
    whatever the scheduling, not only when its call happens to run before
    the release.  A call that keeps running for the kit timeout without
    parking (a provider that spins) fails the rule, saying so.
    """
    __tracebackhide__ = True
    task = spawn_call(kit, obj, method, *args, **kwargs)
    if not task.wait_parked(kit.timeout):
        kit.fail(_spinning(kit, task))
    return task


def _spinning(kit: Kit, task: WatchedTask[Any]) -> str:
    return (
        f"{task.what} kept running for {kit.timeout:g}s without returning or waiting in a lock, condition "
        "or queue (the kit can only see a call wait if it parks; does the provider spin?)"
    )


def check_still_waiting(kit: Kit, task: WatchedTask[Any] | Task[Any], held: str) -> None:
    """*task* (from :func:`start_call`) must not have returned while *held* is still in flight."""
    __tracebackhide__ = True
    _check_still_waiting(kit, task, held, where="in flight, held in the provider", why="it must wait for it")


class _Hung(BaseException):
    """A provider call in the machine that did not come back: stop, do not shrink.

    Every shrink attempt would wait the full bound again on a provider that
    hangs again, so this escapes Hypothesis (like pytest's ``Exit``, it is not
    an ``Exception``) and :func:`test_lc17_model_conformance` reports it as
    is, with the steps of the example that hung.
    """

    def __init__(self, message: str, steps: str) -> None:
        super().__init__(message)
        self.message = message
        #: The trace when it hung (the teardown's releases come after).
        self.steps = steps


@dataclass(slots=True)
class _Run:
    """A segment: a maximal run of dirty turns with one owner (``None``: un-owned)."""

    owner: GatedAgent | None
    turns: int

    def __repr__(self) -> str:
        return f"{self.owner!r}×{self.turns}"


@dataclass(slots=True)
class _ModelSession:
    handle: GatedAgent | None = None
    #: Dirty turns, oldest segment first.
    runs: list[_Run] = field(default_factory=list)
    #: Last generation returned (``None``: none since the session was created or forgotten).
    generation: int | None = None


@dataclass(slots=True)
class _Flight:
    """The commit held inside the provider: it flushes ``turns`` turns of the oldest run."""

    sid: str
    owner: GatedAgent
    turns: int
    task: Task[Any]


class SessionModel:
    """The plain sequential model of one coordinator.

    It predicts which agent each commit calls and which turns that call
    flushes, and counts the calls and closes each agent must have seen.
    """

    def __init__(self) -> None:
        self.sessions: dict[str, _ModelSession] = {}
        self.flight: _Flight | None = None
        self.calls: Counter[GatedAgent] = Counter()
        self.closes: Counter[GatedAgent] = Counter()
        #: Per agent, the (session, turns) of every successful call: each turn appears once.
        self.committed: dict[GatedAgent, list[tuple[str, int]]] = {}

    def session(self, sid: str) -> _ModelSession:
        return self.sessions.setdefault(sid, _ModelSession())

    def dirty(self, sid: str) -> bool:
        state = self.sessions.get(sid)
        return state is not None and bool(state.runs)

    def in_flight(self, sid: str) -> bool:
        return self.flight is not None and self.flight.sid == sid

    def describe(self, sid: str) -> str:
        state = self.sessions.get(sid)
        runs = state.runs if state else []
        held = self.flight if self.flight is not None and self.flight.sid == sid else None
        flight = f", {held.turns} turn(s) of the oldest in flight" if held else ""
        return f"model segments of {sid!r}, oldest first: {runs}{flight}"

    # -- turns and handles ---------------------------------------------------

    def register(self, sid: str, agent: GatedAgent | None) -> None:
        self.session(sid).handle = agent

    def mark(self, sid: str, agent: GatedAgent | None) -> None:
        state = self.session(sid)
        owner = agent if agent is not None else state.handle
        if state.runs and state.runs[-1].owner is owner:
            state.runs[-1].turns += 1  # joins the newest segment, even one in flight
        else:
            state.runs.append(_Run(owner, 1))

    # -- commits -------------------------------------------------------------

    def callee(self, sid: str, agent: GatedAgent | None) -> GatedAgent | None:
        """Who the next commit of *sid* calls (``None``: no call), without side effects."""
        state = self.sessions.get(sid)
        if state is None or not state.runs or self.in_flight(sid):
            return None
        return state.runs[0].owner or agent

    def claim(self, sid: str, agent: GatedAgent | None) -> tuple[GatedAgent, int] | None:
        """Start a commit: the owner called and the turns it flushes, or ``None``."""
        state = self.sessions.get(sid)
        if state is None or not state.runs:
            return None
        oldest = state.runs[0]
        if oldest.owner is None:
            if agent is None:
                return None
            oldest.owner = agent  # adopted, whatever the call's outcome (LC-07)
            if len(state.runs) > 1 and state.runs[1].owner is agent:
                oldest.turns += state.runs.pop(1).turns
        self.calls[oldest.owner] += 1
        return oldest.owner, oldest.turns

    def settle(self, sid: str, owner: GatedAgent, turns: int, ok: bool) -> None:
        """A commit returned; on success only the turns it claimed are clean (LC-05)."""
        if not ok:
            return
        state = self.sessions[sid]
        oldest = state.runs[0]
        oldest.turns -= turns
        if oldest.turns == 0:
            state.runs.pop(0)
        self.committed.setdefault(owner, []).append((sid, turns))

    def commit(self, sid: str, agent: GatedAgent | None, ok: bool = True) -> GatedAgent | None:
        claim = self.claim(sid, agent)
        if claim is None:
            return None
        self.settle(sid, *claim, ok=ok)
        return claim[0]

    # -- boundaries ----------------------------------------------------------

    def drain(self) -> None:
        """Every session, every segment with an owner, oldest first (LC-11)."""
        for sid, state in self.sessions.items():
            while state.runs and state.runs[0].owner is not None:
                self.commit(sid, None)

    def evict_callees(self, sid: str, agent: GatedAgent) -> set[GatedAgent]:
        state = self.sessions.get(sid)
        return {run.owner or agent for run in state.runs} if state else set()

    def evict(self, sid: str, agent: GatedAgent) -> None:
        """Flush everything (*agent* adopts un-owned work), drop the handle, close once (LC-15)."""
        while self.commit(sid, agent) is not None:
            pass
        self.session(sid).handle = None
        self.closes[agent] += 1

    def discard(self, sid: str) -> bool:
        """Forget a clean, idle session (LC-16); ``False`` if dirty or in flight."""
        if self.in_flight(sid) or self.dirty(sid):
            return False
        self.sessions.pop(sid, None)
        return True


def session_lifecycle_machine(
    factory: Callable[[], Any],
    kit: Kit,
    *,
    eviction: bool,
    make_agent: Callable[[], GatedAgent] | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine checking the coordinators *factory* builds against :class:`SessionModel`.

    :param factory: returns a fresh guarded coordinator (one per example).
    :param kit: the test's kit: assertions, timeouts, agent gates.
    :param eviction: the provider claims ``evict_session`` (adds the evict rule).
    :param make_agent: builds agent doubles (default: ``GatedAgent(kit)``).  At
        most three are made per test and reused by every example, each with
        its counts taken afresh, so failure traces name the same three agents.
    :returns: a ``RuleBasedStateMachine`` subclass; run it with
        :func:`pytest_lifecycle.run_machine`.
    """
    new_agent = make_agent or (lambda: GatedAgent(kit))
    boundaries = ("drain", "evict") if eviction else ("drain",)
    pool: list[GatedAgent] = []

    class SessionLifecycleMachine(RuleBasedStateMachine):
        sessions = Bundle("sessions")
        agents = Bundle("agents")

        def __init__(self) -> None:
            super().__init__()
            # Failure messages show the calls of this example only.
            kit.restart_trace(f"{kit.rule.id} example on a fresh coordinator")
            self.model = SessionModel()
            self.used: list[GatedAgent] = []
            self.base: dict[GatedAgent, tuple[int, int]] = {}
            self.tasks: list[Any] = []
            with self._hangs_stop(""):
                self.lc = factory()

        # -- helpers ---------------------------------------------------------

        def _agent(self) -> GatedAgent:
            if len(pool) <= len(self.used):
                pool.append(new_agent())
            agent = pool[len(self.used)]
            agent.fail_next(0)
            agent.release()
            self.base[agent] = (agent.calls, agent.close_calls)
            self.used.append(agent)
            return agent

        def _held_agent(self) -> GatedAgent | None:
            return self.model.flight.owner if self.model.flight else None

        def _bound(self) -> tuple[float, str]:
            """How long a call made now may take, and why (for the hang message).

            While a commit is held, every call the machine makes in between
            must return promptly: the held commit is released only after
            it returns, so a call waiting for it would wait forever.
            """
            flight = self.model.flight
            if flight is None:
                return kit.timeout, ""
            return kit.prompt, (
                f" while the commit of {flight.sid!r} was held inside {flight.owner!r}.commit_memory_session() "
                "(it is released only after this call returns, so a call waiting for it never ends)"
            )

        @contextmanager
        def _hangs_stop(self, why: str) -> Iterator[None]:
            """Turn a provider call that did not come back into :class:`_Hung` (not shrunk)."""
            try:
                yield
            except ProviderHung as hung:
                raise _Hung(
                    f"provider {hung.provider!r} still inside {hung.what} {hung.timeout:g}s after it was called{why}",
                    kit.steps(),
                ) from None

        def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
            """The guarded ``lc.method(*args, **kwargs)``, bounded by :meth:`_bound`."""
            __tracebackhide__ = True
            limit, why = self._bound()
            call = functools.partial(getattr(self.lc, method), *args, **kwargs)
            with self._hangs_stop(why):
                return kit.call(call, what=call_text(self.lc, method, args, kwargs), timeout=limit)

        def _result(self, task: Any) -> Any:
            """What *task* returned (or raised), bounded by the kit timeout."""
            __tracebackhide__ = True
            with self._hangs_stop(""):
                return task.result()

        def _spawn(self, method: str, *args: Any, **kwargs: Any) -> Task[Any]:
            task: Task[Any] = getattr(self.lc, method).spawn(*args, **kwargs)
            self.tasks.append(task)
            return task

        def _start(self, method: str, *args: Any, **kwargs: Any) -> WatchedTask[Any]:
            """:func:`start_call`, but a call that spins stops the machine instead of being shrunk."""
            task = spawn_call(kit, self.lc, method, *args, **kwargs)
            self.tasks.append(task)
            if not task.wait_parked(kit.timeout):
                raise _Hung(_spinning(kit, task), kit.steps())
            return task

        @staticmethod
        def _with(agent: GatedAgent | None) -> tuple[Any, ...]:
            return () if agent is None else (agent,)

        def _release_held(self, fail: bool) -> _Flight:
            flight = self.model.flight
            assert flight is not None
            if fail:
                flight.owner.fail_next(1)
            flight.owner.release()
            try:
                got = self._result(flight.task)
            finally:
                flight.owner.fail_next(0)
            self.model.flight = None
            self.model.settle(flight.sid, flight.owner, flight.turns, ok=not fail)
            kit.expect(got, not fail, f"the held commit of {flight.sid!r}, released{' to fail' if fail else ''}")
            return flight

        # -- setup -----------------------------------------------------------

        @initialize(target=sessions)
        def open_sessions(self) -> Any:
            return multiple(*SIDS)

        @initialize(target=agents)
        def agents_registered(self) -> Any:
            """The agents; the first starts registered for the first session, the other has none."""
            agents = [self._agent() for _ in range(AGENTS)]
            self._call("register_agent", SIDS[0], agents[0])
            self.model.register(SIDS[0], agents[0])
            return multiple(*agents)

        # -- turns and handles -------------------------------------------------

        @rule(sid=sessions, agent=st.none() | agents)
        def handle(self, sid: str, agent: GatedAgent | None) -> None:
            if agent is None:
                self._call("unregister_agent", sid)
            else:
                self._call("register_agent", sid, agent)
            self.model.register(sid, agent)

        @rule(sid=sessions, owners=st.lists(st.none() | agents, min_size=1, max_size=3))
        def turns(self, sid: str, owners: list[GatedAgent | None]) -> None:
            """A burst of completed turns, each with its explicit agent (``None``: the handle's)."""
            state = self.model.session(sid)
            for agent in owners:
                if agent is None:
                    generation = self._call("mark_turn_completed", sid)
                else:
                    generation = self._call("mark_turn_completed", sid, agent=agent)
                if state.generation is not None:
                    kit.check(
                        generation > state.generation,
                        f"mark_turn_completed({sid!r}) returned generation {generation}, "
                        f"not greater than the previous {state.generation}",
                    )
                state.generation = generation
                self.model.mark(sid, agent)

        # -- commits -----------------------------------------------------------

        @rule(sid=sessions, agent=st.none() | agents, fail=st.booleans(), wait=st.booleans())
        def commit(self, sid: str, agent: GatedAgent | None, fail: bool, wait: bool) -> None:
            if self.model.in_flight(sid):
                return  # commit_without_waiting and settle_held meet the held commit
            callee = self.model.callee(sid, agent)
            if callee is not None and callee is self._held_agent():
                return  # its gate is closed for the held commit of the other session
            if callee is not None and fail:
                callee.fail_next(1)
            options = {"wait": True, "timeout": kit.timeout} if wait else {}
            try:
                got = self._call("commit_session_memory", sid, *self._with(agent), **options)
            finally:
                if callee is not None:
                    callee.fail_next(0)
            owner = self.model.commit(sid, agent, ok=not fail)
            kit.expect(got, owner is not None and not fail, f"commit of {sid!r} ({self.model.describe(sid)})")

        @precondition(lambda self: self.model.flight is None)
        @rule(sid=sessions, agent=st.none() | agents)
        def hold_commit(self, sid: str, agent: GatedAgent | None) -> None:
            callee = self.model.callee(sid, agent)
            if callee is None:
                return
            callee.block()
            entered = callee.gate.entered + 1
            task = self._spawn("commit_session_memory", sid, *self._with(agent))
            try:
                callee.wait_entered(entered, unless=task)
            except RuleViolation:
                if task.done:
                    raise  # it returned without calling the owner: a wrong answer, shrunk as usual
                raise _Hung(
                    f"provider {kit.provider.name!r} still inside {task.what} {kit.timeout:g}s after it was "
                    f"called, without calling {callee!r}.commit_memory_session() (the owner of the oldest segment)",
                    kit.steps(),
                ) from None
            claim = self.model.claim(sid, agent)
            assert claim is not None and claim[0] is callee
            self.model.flight = _Flight(sid, callee, claim[1], task)

        @precondition(lambda self: self.model.flight is not None)
        @rule(agent=st.none() | agents)
        def commit_without_waiting(self, agent: GatedAgent | None) -> None:
            assert self.model.flight is not None
            sid = self.model.flight.sid
            got = self._call("commit_session_memory", sid, *self._with(agent), wait=False)
            kit.expect(got, False, f"commit(wait=False) of {sid!r} while a commit of it is held")

        @precondition(lambda self: self.model.flight is not None)
        @rule(ending=st.sampled_from(ENDINGS), agent=st.none() | agents)
        def settle_held(self, ending: str, agent: GatedAgent | None) -> None:
            """Let the held commit return: succeed, fail, or meet a waiting commit or a drain.

            A drain or a waiting commit is started first and released only
            once it has parked (or returned, which fails the rule).
            """
            flight = self.model.flight
            assert flight is not None
            sid = flight.sid
            held = f"the commit of {sid!r}"
            if ending == "drain":
                drain = self._start("drain_all_on_shutdown", deadline=kit.timeout / 2)
                check_still_waiting(kit, drain, held)
                self._release_held(fail=False)
                self._result(drain)
                self.model.drain()
                return
            waiting = None
            if ending.startswith("waiting"):
                waiting = self._start("commit_session_memory", sid, *self._with(agent), wait=True, timeout=kit.timeout)
                check_still_waiting(kit, waiting, held)
            self._release_held(fail=ending.endswith("fail"))
            if waiting is not None:
                owner = self.model.commit(sid, agent)
                kit.expect(
                    self._result(waiting),
                    owner is not None,
                    f"commit(wait=True) of {sid!r} once the held commit returned ({self.model.describe(sid)})",
                )

        # -- boundaries --------------------------------------------------------

        @rule(kind=st.sampled_from(boundaries), sid=sessions, agent=agents)
        def boundary(self, kind: str, sid: str, agent: GatedAgent) -> None:
            """A shutdown drain (every session), or the eviction of *sid* by *agent*.

            One rule for both, so that flushing everything stays rarer than
            the turns and commits that build interesting states.  A drain
            while a commit is held is ``settle_held(ending="drain")``.
            """
            if kind == "drain":
                if self.model.flight is None:
                    self._call("drain_all_on_shutdown", deadline=kit.timeout / 2)
                    self.model.drain()
                return
            if self.model.in_flight(sid) or self._held_agent() in self.model.evict_callees(sid, agent):
                return  # it would wait for the held commit
            got = self._call("evict_session", sid, agent)
            self.model.evict(sid, agent)
            kit.expect(got, True, f"evict_session({sid!r}, {agent!r}) (closes the agent)")

        @rule(sid=sessions)
        def discard(self, sid: str) -> None:
            expected = self.model.discard(sid)
            kit.expect(self._call("discard_session", sid), expected, f"discard_session({sid!r})")

        # -- checks ------------------------------------------------------------

        @invariant()
        def agrees_with_model(self) -> None:
            # One kit call for every session (one thread hop per step), and no
            # trace lines: failure messages show the steps, not the queries.
            raw = unwrap(self.lc)
            limit, why = self._bound()
            with self._hangs_stop(why):
                dirty = kit.call(lambda: [raw.has_uncommitted_work(sid) for sid in SIDS], what=QUERY, timeout=limit)
            for sid, got in zip(SIDS, dirty):
                kit.expect(got, self.model.dirty(sid), f"has_uncommitted_work({sid!r}) ({self.model.describe(sid)})")
            for agent in self.used:
                calls, closes = self.base[agent]
                kit.expect(
                    agent.calls - calls,
                    self.model.calls[agent],
                    f"commit_memory_session() calls that reached {agent!r} in this example",
                )
                kit.expect(agent.close_calls - closes, self.model.closes[agent], f"close() calls of {agent!r}")

        def teardown(self) -> None:
            for agent in self.used:
                agent.fail_next(0)
                agent.release()
            for task in self.tasks:
                task.wait()

    return SessionLifecycleMachine


@pytest.mark.rule("LC-17")
def test_lc17_model_conformance(
    session_lifecycle_factory: Callable[[], Any], make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-17 (CONTRACTS.md §1a): every completed generation is committed exactly once, by its owner.

    A Hypothesis state machine interleaves every call of the surface —
    commits held, released or failed at the kit's choice — on a fresh
    coordinator per example, and checks ``has_uncommitted_work`` and each
    agent's calls against a sequential model after every step.
    """
    machine = session_lifecycle_machine(
        session_lifecycle_factory,
        lifecycle_kit,
        eviction=lifecycle_kit.provider.claims_capability("eviction"),
        make_agent=make_gated_agent,
    )
    try:
        run_machine(machine, lifecycle_kit)
    except _Hung as hung:
        lifecycle_kit.restart_trace(hung.steps)  # the steps up to the hang, not the teardown after it
        lifecycle_kit.fail(f"{hung.message} (not shrunk: every attempt would hang again)")
