"""LC-17: the session lifecycle against its sequential model (§1a).

:class:`SessionLifecycleMachine` is a Hypothesis ``RuleBasedStateMachine``;
:meth:`SessionLifecycleMachine.configured` binds it to a factory of fresh
coordinators plus keyword flags for optional behaviour. Each example drives
two session ids and three agent doubles through every call of the surface —
bursts of turns with mixed owners, (un)registered handles, commits that
succeed or fail, with or without an explicit agent, waiting or not; a commit
held inside the provider and later released to succeed or fail, met by a
``wait=False`` commit, a ``wait=True`` commit, a drain or an eviction; drains
and (with ``eviction``) evictions whose own commits may fail; discards — and
compares with the sequential model,
:class:`conformance.models.session_lifecycle.SessionModel`:

* after every step, ``has_uncommitted_work`` of each session agrees with the
  model, and each agent has been called (and closed) exactly as often as the
  model predicts;
* each provider call flushes the segment the model says, with its owner, so
  every completed turn is committed exactly once, by its owner.

Open choices.  Where the contract allows several behaviours (the open choices
``LC/…`` of §1a, and the SHOULD of LC-04/LC-05: turns completed while a
commit is in flight may form one segment each), the model does not take the
reference's side.  :class:`Readings` keeps one model per reading the
provider's answers still allow: a step that needs a choice nobody has seen
yet continues once per branch, and the answers drop the readings that
disagree.  Once every reading left takes the same branch, the kit observes it
(``kit.observe_choice``) and the model follows it for the rest of the
example; a provider that then answers as only the other branch can fails
with both observations named.  A step that needs the callee before the call
(to hold it, or to fail it) is made only when every reading agrees on it.

Failures at boundaries (LC-11, LC-15).  A drain's or an eviction's own
commit may be made to fail: the first call the boundary makes to a chosen
agent raises.  A drain then leaves that session dirty with its owner and
handle, or retries it (``LC/drain-retry``), and flushes the others; an
eviction returns ``False`` without closing, the work and handle kept.  A
drain is only failed through an agent that the model says it calls for one
session, so the order in which a provider drains sessions does not matter.

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
kit timeout.  A drain, an eviction or a ``wait=True`` commit meeting the held
commit is released only once its thread has parked (:func:`start_call`).  A
call that does not come back stops the machine at once with ``[LC-17]
provider … still inside …``: it is not shrunk, since every shrink attempt
would wait the whole bound on a provider that hangs again.

This module is private (not collected); :mod:`conformance.session_lifecycle`
re-exports :func:`test_lc17_model_conformance`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Final

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, multiple, precondition, rule

from pytest_lifecycle import CHOICES, GatedAgent, Kit, ProviderHung, RuleViolation, Task, run_machine, unwrap
from pytest_lifecycle.support import WatchedTask, short_repr, spawn_watched
from pytest_lifecycle.support import check_still_waiting as _check_still_waiting

from .models.session_lifecycle import OPEN_CHOICES, Check, Readings, SessionModel

__all__ = [
    "Readings",
    "SessionLifecycleMachine",
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
#: waiting for it (``wait=True``), under a shutdown drain, or under an eviction.
ENDINGS: Final = ("release", "release-fail", "waiting", "waiting-fail", "drain", "evict")
#: What the state check asks after every step (named in a hang message).
QUERY: Final = ", ".join(f"has_uncommitted_work({sid!r})" for sid in SIDS)

#: The open choices the model follows are those of the contract text, branch for branch.
assert {c: tuple(CHOICES[c].branches) for c in OPEN_CHOICES} == OPEN_CHOICES, "the model's open choices drifted"


def call_text(obj: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """How a call of the guarded *obj* reads in trace lines and failure messages."""
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"{obj!r}.{method}({', '.join(parts)})"


def spawn_call(kit: Kit, obj: Any, method: str, *args: Any, **kwargs: Any) -> WatchedTask[Any]:
    """Spawn the guarded ``obj.method(*args, **kwargs)`` on a kit worker watched for parking.

    The guarded method runs inline on the watched worker, so the call is
    still traced and its result checked (see :class:`~pytest_lifecycle.support.WatchedTask`).
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


def _effect(change: Callable[[SessionModel], object]) -> Callable[[SessionModel], Sequence[Check]]:
    """The act of a step that returns nothing to compare: only its *change* to the model."""

    def act(model: SessionModel) -> Sequence[Check]:
        change(model)
        return ()

    return act


def _released_then_drained(model: SessionModel) -> None:
    model.release(ok=True)
    model.drain()


# -- the machine ---------------------------------------------------------------------


@dataclass(slots=True)
class _Flight:
    """The commit held inside the provider (every reading agrees on its owner)."""

    sid: str
    owner: GatedAgent
    task: Task[Any]


class SessionLifecycleMachine(RuleBasedStateMachine):
    """Every call of the surface on a fresh coordinator per example, checked against :class:`Readings`."""

    sessions = Bundle("sessions")
    agents = Bundle("agents")

    kit: ClassVar[Kit]
    #: Returns a fresh guarded coordinator (one per example).
    factory: ClassVar[staticmethod[[], Any]]
    #: Builds an agent double; the agents built are kept in ``pool`` and reused by every example.
    new_agent: ClassVar[staticmethod[[], GatedAgent]]
    pool: ClassVar[list[GatedAgent]]
    #: Boundary steps (``drain``, and ``evict`` when the provider claims eviction) and held-commit endings.
    boundaries: ClassVar[tuple[str, ...]]
    endings: ClassVar[tuple[str, ...]]

    @classmethod
    def configured(
        cls,
        factory: Callable[[], Any],
        kit: Kit,
        *,
        eviction: bool,
        make_agent: Callable[[], GatedAgent] | None = None,
    ) -> type[SessionLifecycleMachine]:
        """This machine checking the coordinators *factory* builds against the model.

        :param factory: returns a fresh guarded coordinator (one per example).
        :param kit: the test's kit: assertions, timeouts, agent gates, open choices.
        :param eviction: the provider claims ``evict_session`` (adds the evictions).
        :param make_agent: builds agent doubles (default: ``GatedAgent(kit)``).  At
            most three are made per test and reused by every example, each with
            its counts taken afresh, so failure traces name the same three agents.
        :returns: a subclass; run it with :func:`pytest_lifecycle.run_machine`.
        """
        config = {
            "kit": kit,
            "factory": staticmethod(factory),
            "new_agent": staticmethod(make_agent or (lambda: GatedAgent(kit))),
            "pool": [],
            "boundaries": ("drain", "evict") if eviction else ("drain",),
            "endings": ENDINGS if eviction else tuple(e for e in ENDINGS if e != "evict"),
        }
        return type(cls.__name__, (cls,), config)

    def __init__(self) -> None:
        super().__init__()
        # Failure messages show the calls of this example only; its
        # coordinator makes its open choices afresh.
        self.kit.restart_trace(f"{self.kit.rule.id} example on a fresh coordinator")
        self.readings = Readings(self.kit, show=short_repr)
        self.flight: _Flight | None = None
        self.used: list[GatedAgent] = []
        self.base: dict[GatedAgent, tuple[int, int]] = {}
        self.tasks: list[Any] = []
        with self._hangs_stop(""):
            self.lc = self.factory()

    # -- helpers ---------------------------------------------------------

    def _agent(self) -> GatedAgent:
        if len(self.pool) <= len(self.used):
            self.pool.append(self.new_agent())
        agent = self.pool[len(self.used)]
        agent.fail_next(0)
        agent.release()
        self.base[agent] = (agent.calls, agent.close_calls)
        self.used.append(agent)
        return agent

    def _held_agent(self) -> GatedAgent | None:
        return self.flight.owner if self.flight else None

    def _bound(self) -> tuple[float, str]:
        """How long a call made now may take, and why (for the hang message).

        While a commit is held, every call the machine makes in between
        must return promptly: the held commit is released only after
        it returns, so a call waiting for it would wait forever.
        """
        flight = self.flight
        if flight is None:
            return self.kit.timeout, ""
        return self.kit.prompt, (
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
                self.kit.steps(),
            ) from None

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """The guarded ``lc.method(*args, **kwargs)``, bounded by :meth:`_bound`."""
        __tracebackhide__ = True
        limit, why = self._bound()
        call = functools.partial(getattr(self.lc, method), *args, **kwargs)
        with self._hangs_stop(why):
            return self.kit.call(call, what=call_text(self.lc, method, args, kwargs), timeout=limit)

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
        task = spawn_call(self.kit, self.lc, method, *args, **kwargs)
        self.tasks.append(task)
        if not task.wait_parked(self.kit.timeout):
            raise _Hung(_spinning(self.kit, task), self.kit.steps())
        return task

    @staticmethod
    def _with(agent: GatedAgent | None) -> tuple[Any, ...]:
        return () if agent is None else (agent,)

    def _verify(self, what: str, act: Callable[[SessionModel], Sequence[Check]] = lambda m: ()) -> None:
        """The step *what* happened: apply *act* to every reading, compare each with the provider."""
        __tracebackhide__ = True
        # One kit call for every session (one thread hop per step), and no
        # trace lines: failure messages show the steps, not the queries.
        raw = unwrap(self.lc)
        limit, why = self._bound()
        with self._hangs_stop(why):
            dirty = self.kit.call(lambda: [raw.has_uncommitted_work(sid) for sid in SIDS], what=QUERY, timeout=limit)
        calls = {a: a.calls - self.base[a][0] for a in self.used}
        closes = {a: a.close_calls - self.base[a][1] for a in self.used}

        def state(model: SessionModel) -> list[Check]:
            checks: list[Check] = [
                (f"has_uncommitted_work({sid!r}) ({model.describe(sid)})", model.dirty(sid), got)
                for sid, got in zip(SIDS, dirty)
            ]
            for agent in self.used:
                checks.append(
                    (
                        f"commit_memory_session() calls that reached {agent!r} in this example",
                        model.calls[agent],
                        calls[agent],
                    )
                )
                checks.append((f"close() calls of {agent!r}", model.closes[agent], closes[agent]))
            return checks

        self.readings.step(what, act, state)

    def _sessions_calling(self, agent: GatedAgent, act: Callable[[SessionModel], object]) -> set[str]:
        """The sessions for which *act* calls *agent*, under any reading."""

        def log(model: SessionModel) -> list[tuple[str, GatedAgent]]:
            act(model)
            return model.log

        return {sid for calls in self.readings.peek(log) for sid, called in calls if called is agent}

    def _release_held(self, fail: bool, then_fail: bool = False) -> Any:
        """Let the held commit return (to fail, if *fail*); with *then_fail*, the owner's next call fails.

        For *then_fail* the gate lets the held call through alone and
        stays closed until the failure is armed, so the held call
        succeeds and the next one -- a drain's or an eviction's, which
        waited for it -- fails.  The caller disarms the owner afterwards.
        """
        flight = self.flight
        assert flight is not None
        owner = flight.owner
        try:
            if then_fail:
                owner.gate.admit(1)
                got = self._result(flight.task)
                owner.fail_next(1)
            else:
                if fail:
                    owner.fail_next(1)
                owner.release()
                got = self._result(flight.task)
        finally:
            owner.release()
            if not then_fail:
                owner.fail_next(0)
        self.flight = None
        return got

    # -- setup -----------------------------------------------------------

    @initialize(target=sessions)
    def open_sessions(self) -> Any:
        return multiple(*SIDS)

    @initialize(target=agents)
    def agents_registered(self) -> Any:
        """The agents; the first starts registered for the first session, the other has none."""
        agents = [self._agent() for _ in range(AGENTS)]
        self._call("register_agent", SIDS[0], agents[0])
        self._verify(f"register_agent({SIDS[0]!r}, {agents[0]!r})", _effect(lambda m: m.register(SIDS[0], agents[0])))
        return multiple(*agents)

    # -- turns and handles -------------------------------------------------

    @rule(sid=sessions, agent=st.none() | agents)
    def handle(self, sid: str, agent: GatedAgent | None) -> None:
        if agent is None:
            self._call("unregister_agent", sid)
        else:
            self._call("register_agent", sid, agent)
        self._verify(f"(un)register_agent({sid!r})", _effect(lambda m: m.register(sid, agent)))

    @rule(sid=sessions, owners=st.lists(st.none() | agents, min_size=1, max_size=3))
    def turns(self, sid: str, owners: list[GatedAgent | None]) -> None:
        """A burst of completed turns, each with its explicit agent (``None``: the handle's)."""
        generations = [
            self._call("mark_turn_completed", sid, **({} if agent is None else {"agent": agent})) for agent in owners
        ]

        def act(model: SessionModel) -> Sequence[Check]:
            for agent, generation in zip(owners, generations):
                model.mark(sid, agent, generation)
            return ()

        self._verify(f"{len(owners)} mark_turn_completed({sid!r})", act)

    # -- commits -----------------------------------------------------------

    @rule(sid=sessions, agent=st.none() | agents, fail=st.booleans(), wait=st.booleans())
    def commit(self, sid: str, agent: GatedAgent | None, fail: bool, wait: bool) -> None:
        if self.flight is not None and self.flight.sid == sid:
            return  # commit_without_waiting and settle_held meet the held commit
        callees = {c for c in self.readings.peek(lambda m: m.callee(sid, agent)) if c is not None}
        if self._held_agent() in callees:
            return  # its gate is closed for the held commit of the other session
        armed = callees if fail else set()
        for callee in armed:
            callee.fail_next(1)
        options = {"wait": True, "timeout": self.kit.timeout} if wait else {}
        try:
            got = self._call("commit_session_memory", sid, *self._with(agent), **options)
        finally:
            for callee in armed:
                callee.fail_next(0)

        def act(model: SessionModel) -> Sequence[Check]:
            owner = model.commit(sid, agent, ok=not fail)
            return [(f"commit of {sid!r} ({model.describe(sid)})", owner is not None and not fail, got)]

        self._verify(f"commit_session_memory({sid!r}{', agent' if agent else ''})", act)

    @precondition(lambda self: self.flight is None)
    @rule(sid=sessions, agent=st.none() | agents)
    def hold_commit(self, sid: str, agent: GatedAgent | None) -> None:
        callees = set(self.readings.peek(lambda m: m.callee(sid, agent)))
        if len(callees) != 1 or None in callees:
            return  # nothing to hold, or the readings disagree on whom it calls
        (callee,) = callees
        assert callee is not None
        callee.block()
        entered = callee.gate.entered + 1
        task = self._spawn("commit_session_memory", sid, *self._with(agent))
        try:
            callee.wait_entered(entered, unless=task)
            entered_callee = True
        except RuleViolation:
            if not task.done:
                raise _Hung(
                    f"provider {self.kit.provider.name!r} still inside {task.what} {self.kit.timeout:g}s after it was "
                    f"called, without calling {callee!r}.commit_memory_session() (the owner of the oldest "
                    "segment)",
                    self.kit.steps(),
                ) from None
            entered_callee = False
        if not entered_callee:
            # It returned without calling the predicted owner: judged as a plain commit, and
            # outside the except block, so that Hypothesis sees one kind of failure, not two.
            callee.release()
            got = self._result(task)
            self._verify(
                f"commit_session_memory({sid!r}{', agent' if agent else ''})",
                lambda m: [(f"commit of {sid!r} ({m.describe(sid)})", m.commit(sid, agent) is not None, got)],
            )
            return
        self.flight = _Flight(sid, callee, task)
        self._verify(f"commit_session_memory({sid!r}) held in {callee!r}", _effect(lambda m: m.hold(sid, agent)))

    @precondition(lambda self: self.flight is not None)
    @rule(agent=st.none() | agents)
    def commit_without_waiting(self, agent: GatedAgent | None) -> None:
        assert self.flight is not None
        sid = self.flight.sid
        got = self._call("commit_session_memory", sid, *self._with(agent), wait=False)
        self._verify(
            f"commit_session_memory({sid!r}, wait=False)",
            lambda m: [(f"commit(wait=False) of {sid!r} while a commit of it is held", False, got)],
        )

    @precondition(lambda self: self.flight is not None)
    @rule(
        ending=st.runner().flatmap(lambda m: st.sampled_from(m.endings)),
        agent=st.none() | agents,
        arm=st.none() | agents,
    )
    def settle_held(self, ending: str, agent: GatedAgent | None, arm: GatedAgent | None) -> None:
        """Let the held commit return: succeed, fail, or meet a waiting commit, a drain or an eviction.

        A drain, an eviction or a waiting commit is started first and
        released only once it has parked (or returned, which fails the
        rule).  The drain's or eviction's own commits then fail at the
        first call to *arm*, if given.
        """
        flight = self.flight
        assert flight is not None
        sid = flight.sid
        held = f"the commit of {sid!r}"
        if ending in ("drain", "evict"):
            self._settle_in_boundary(ending, flight, agent or flight.owner, arm)
            return
        fail = ending.endswith("fail")
        waiting = None
        if ending.startswith("waiting"):
            waiting = self._start("commit_session_memory", sid, *self._with(agent), wait=True, timeout=self.kit.timeout)
            check_still_waiting(self.kit, waiting, held)
        got_held = self._release_held(fail)
        got_waiting = None if waiting is None else self._result(waiting)

        def act(model: SessionModel) -> Sequence[Check]:
            model.release(ok=not fail)
            checks: list[Check] = [
                (f"the held commit of {sid!r}, released{' to fail' if fail else ''}", not fail, got_held)
            ]
            if waiting is not None:
                owner = model.commit(sid, agent)
                checks.append(
                    (
                        f"commit(wait=True) of {sid!r} once the held commit returned ({model.describe(sid)})",
                        owner is not None,
                        got_waiting,
                    )
                )
            return checks

        self._verify(f"{ending} of the held commit of {sid!r}", act)

    def _settle_in_boundary(self, kind: str, flight: _Flight, evictor: GatedAgent, arm: GatedAgent | None) -> None:
        sid = flight.sid
        if kind == "drain":
            calling = self._sessions_calling(arm, _released_then_drained) if arm is not None else set()
            if len(calling) > 1:
                arm = None  # which session's call fails would depend on the provider's drain order
            elif arm is flight.owner and calling - {sid}:
                # The drain may call it for the other session while its gate holds the commit:
                # that call could take the one passage meant for the held commit.
                arm = None
        held_fails_next = arm is flight.owner
        try:
            if arm is not None and not held_fails_next:
                arm.fail_next(1)  # before the boundary starts: it may call *arm* at once
            if kind == "drain":
                task = self._start("drain_all_on_shutdown", deadline=self.kit.timeout / 2)
            else:
                task = self._start("evict_session", sid, evictor)
            check_still_waiting(self.kit, task, f"the commit of {sid!r}")
            got_held = self._release_held(False, then_fail=held_fails_next)
            got = self._result(task)
        finally:
            if arm is not None:
                arm.fail_next(0)

        def act(model: SessionModel) -> Sequence[Check]:
            model.release(ok=True)
            checks: list[Check] = [(f"the held commit of {sid!r}, released", True, got_held)]
            if kind == "drain":
                model.drain(arm)
                checks.append(("drain_all_on_shutdown()", None, got))
            else:
                closed = model.evict(sid, evictor, arm)
                checks.append((f"evict_session({sid!r}, {evictor!r}) (True only if it closed the agent)", closed, got))
            return checks

        failing = f", failing {arm!r}" if arm is not None else ""
        self._verify(f"{kind} meeting the held commit of {sid!r}{failing}", act)

    # -- boundaries --------------------------------------------------------

    @rule(
        kind=st.runner().flatmap(lambda m: st.sampled_from(m.boundaries)),
        sid=sessions,
        agent=agents,
        arm=st.none() | agents,
    )
    def boundary(self, kind: str, sid: str, agent: GatedAgent, arm: GatedAgent | None) -> None:
        """A shutdown drain (every session), or the eviction of *sid* by *agent*; *arm* fails once in it.

        One rule for both, so that flushing everything stays rarer than
        the turns and commits that build interesting states.  A drain or
        an eviction meeting the held commit is ``settle_held``.
        """
        failing = f", failing {arm!r}" if arm is not None else ""
        if kind == "drain":
            if self.flight is not None:
                return
            if arm is not None and len(self._sessions_calling(arm, lambda m: m.drain())) > 1:
                arm = None  # which session's call fails would depend on the provider's drain order
            try:
                if arm is not None:
                    arm.fail_next(1)
                got = self._call("drain_all_on_shutdown", deadline=self.kit.timeout / 2)
            finally:
                if arm is not None:
                    arm.fail_next(0)

            def drained(model: SessionModel) -> Sequence[Check]:
                model.drain(arm)
                return [("drain_all_on_shutdown()", None, got)]

            self._verify(f"drain_all_on_shutdown(){failing}", drained)
            return
        if self.flight is not None and self.flight.sid == sid:
            return  # it would wait for the held commit
        held = self._held_agent()
        if held is not None and sid in self._sessions_calling(held, lambda m: m.evict(sid, agent)):
            return  # it would wait for the held agent's gate
        if arm is held:
            arm = None  # the held commit would take the failure
        try:
            if arm is not None:
                arm.fail_next(1)
            got = self._call("evict_session", sid, agent)
        finally:
            if arm is not None:
                arm.fail_next(0)
        self._verify(
            f"evict_session({sid!r}, {agent!r}){failing}",
            lambda m: [
                (
                    f"evict_session({sid!r}, {agent!r}) (True only if it closed the agent)",
                    m.evict(sid, agent, arm),
                    got,
                )
            ],
        )

    @rule(sid=sessions)
    def discard(self, sid: str) -> None:
        got = self._call("discard_session", sid)
        self._verify(f"discard_session({sid!r})", lambda m: [(f"discard_session({sid!r})", m.discard(sid), got)])

    def teardown(self) -> None:
        for agent in self.used:
            agent.fail_next(0)
            agent.release()
        for task in self.tasks:
            task.wait()


def session_lifecycle_machine(
    factory: Callable[[], Any],
    kit: Kit,
    *,
    eviction: bool,
    make_agent: Callable[[], GatedAgent] | None = None,
) -> type[SessionLifecycleMachine]:
    """:meth:`SessionLifecycleMachine.configured` (the name the project's tests use)."""
    return SessionLifecycleMachine.configured(factory, kit, eviction=eviction, make_agent=make_agent)


@pytest.mark.rule("LC-17")
def test_lc17_model_conformance(
    session_lifecycle_factory: Callable[[], Any], make_gated_agent: Callable[..., GatedAgent], lifecycle_kit: Kit
) -> None:
    """LC-17 (§1a): every completed generation is committed exactly once, by its owner.

    A Hypothesis state machine interleaves every call of the surface —
    commits held, released or failed at the kit's choice, inside drains and
    evictions too — on a fresh coordinator per example, and checks
    ``has_uncommitted_work`` and each agent's calls against a sequential
    model after every step, under every reading of the open choices the
    provider has not shown yet.
    """
    machine = SessionLifecycleMachine.configured(
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
