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

This module is private (not collected); :mod:`conformance.session_lifecycle`
re-exports :func:`test_lc17_model_conformance`.
"""

from __future__ import annotations

from collections import Counter
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Final

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, precondition, rule

from pytest_lifecycle import GatedAgent, Kit, Task, run_machine, unwrap

__all__ = [
    "SessionModel",
    "check_still_waiting",
    "session_lifecycle_machine",
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


def start_call(kit: Kit, obj: Any, method: str, *args: Any, **kwargs: Any) -> Task[Any]:
    """Spawn the guarded ``obj.method(*args, **kwargs)``; return once its worker runs it.

    Returning only when the call has started gives a provider that does not
    wait no head start over the release that follows; a provider that waits
    is correct whatever the order.
    """
    running = threading.Event()
    call = getattr(obj, method)

    def run() -> Any:
        running.set()
        return call(*args, **kwargs)

    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    task = kit.spawn(run, what=f"{obj!r}.{method}({', '.join(parts)})")
    running.wait(kit.timeout)
    return task


def check_still_waiting(kit: Kit, task: Task[Any], held: str) -> None:
    """*task* must not have returned while *held* is still inside the provider."""
    __tracebackhide__ = True
    if task.done:
        error = task.exception()
        outcome = f"raised {type(error).__name__}" if error else f"returned {task.result()!r}"
        kit.fail(f"{task.what} {outcome} while {held} was still held in the provider (it must wait for it)")


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
            self.lc = factory()
            self.model = SessionModel()
            self.used: list[GatedAgent] = []
            self.base: dict[GatedAgent, tuple[int, int]] = {}
            self.tasks: list[Task[Any]] = []

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

        def _spawn(self, method: str, *args: Any, **kwargs: Any) -> Task[Any]:
            task: Task[Any] = getattr(self.lc, method).spawn(*args, **kwargs)
            self.tasks.append(task)
            return task

        def _start(self, method: str, *args: Any, **kwargs: Any) -> Task[Any]:
            task = start_call(kit, self.lc, method, *args, **kwargs)
            self.tasks.append(task)
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
                got = flight.task.result()
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
            self.lc.register_agent(SIDS[0], agents[0])
            self.model.register(SIDS[0], agents[0])
            return multiple(*agents)

        # -- turns and handles -------------------------------------------------

        @rule(sid=sessions, agent=st.none() | agents)
        def handle(self, sid: str, agent: GatedAgent | None) -> None:
            if agent is None:
                self.lc.unregister_agent(sid)
            else:
                self.lc.register_agent(sid, agent)
            self.model.register(sid, agent)

        @rule(sid=sessions, owners=st.lists(st.none() | agents, min_size=1, max_size=3))
        def turns(self, sid: str, owners: list[GatedAgent | None]) -> None:
            """A burst of completed turns, each with its explicit agent (``None``: the handle's)."""
            state = self.model.session(sid)
            for agent in owners:
                if agent is None:
                    generation = self.lc.mark_turn_completed(sid)
                else:
                    generation = self.lc.mark_turn_completed(sid, agent=agent)
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
                got = self.lc.commit_session_memory(sid, *self._with(agent), **options)
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
            callee.wait_entered(entered, unless=task)
            claim = self.model.claim(sid, agent)
            assert claim is not None and claim[0] is callee
            self.model.flight = _Flight(sid, callee, claim[1], task)

        @precondition(lambda self: self.model.flight is not None)
        @rule(agent=st.none() | agents)
        def commit_without_waiting(self, agent: GatedAgent | None) -> None:
            assert self.model.flight is not None
            sid = self.model.flight.sid
            task = self._spawn("commit_session_memory", sid, *self._with(agent), wait=False)
            if not task.wait(kit.prompt):
                kit.fail(f"{task.what} did not return within {kit.prompt:g}s while a commit of {sid!r} was held")
            kit.expect(task.result(), False, f"commit(wait=False) of {sid!r} while a commit of it is held")

        @precondition(lambda self: self.model.flight is not None)
        @rule(ending=st.sampled_from(ENDINGS), agent=st.none() | agents)
        def settle_held(self, ending: str, agent: GatedAgent | None) -> None:
            """Let the held commit return: succeed, fail, or meet a waiting commit or a drain."""
            flight = self.model.flight
            assert flight is not None
            sid = flight.sid
            held = f"the commit of {sid!r}"
            if ending == "drain":
                drain = self._start("drain_all_on_shutdown", deadline=kit.timeout / 2)
                check_still_waiting(kit, drain, held)
                self._release_held(fail=False)
                drain.result()
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
                    waiting.result(),
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
                    self.lc.drain_all_on_shutdown(deadline=kit.timeout / 2)
                    self.model.drain()
                return
            if self.model.in_flight(sid) or self._held_agent() in self.model.evict_callees(sid, agent):
                return  # it would wait for the held commit
            got = self.lc.evict_session(sid, agent)
            self.model.evict(sid, agent)
            kit.expect(got, True, f"evict_session({sid!r}, {agent!r}) (closes the agent)")

        @rule(sid=sessions)
        def discard(self, sid: str) -> None:
            expected = self.model.discard(sid)
            kit.expect(self.lc.discard_session(sid), expected, f"discard_session({sid!r})")

        # -- checks ------------------------------------------------------------

        @invariant()
        def agrees_with_model(self) -> None:
            # One kit call for every session (one thread hop per step), and no
            # trace lines: failure messages show the steps, not the queries.
            raw = unwrap(self.lc)
            dirty = kit.call(lambda: [raw.has_uncommitted_work(sid) for sid in SIDS], what=QUERY)
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
    run_machine(machine, lifecycle_kit)
