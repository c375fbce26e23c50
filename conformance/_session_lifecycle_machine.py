"""LC-17: the session lifecycle against a sequential model (§1a).

:func:`session_lifecycle_machine` builds a Hypothesis ``RuleBasedStateMachine``
from a factory of fresh coordinators plus keyword flags for optional
behaviour, the way Hypothesis's own ``_database_conforms_to_listener_api``
does.  Each example drives two session ids and three agent doubles through
every call of the surface — bursts of turns with mixed owners, (un)registered
handles, commits that succeed or fail, with or without an explicit agent,
waiting or not; a commit held inside the provider and later released to
succeed or fail, met by a ``wait=False`` commit, a ``wait=True`` commit, a
drain or an eviction; drains and (with ``eviction``) evictions whose own
commits may fail; discards — and compares with :class:`SessionModel`:

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
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, multiple, precondition, rule

from pytest_lifecycle import CHOICES, GatedAgent, Kit, ProviderHung, RuleViolation, Task, run_machine, unwrap
from pytest_lifecycle.support import WatchedTask, short_repr, spawn_watched
from pytest_lifecycle.support import check_still_waiting as _check_still_waiting

__all__ = [
    "Readings",
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

# -- what the model may not decide for the provider ----------------------------

UNOWNED: Final = "LC/unowned-commit"
TURN_AGENT: Final = "LC/turn-agent"
ADOPTION: Final = "LC/adoption"
ADOPTED_MERGE: Final = "LC/adopted-merge"
FAILED_IN_FLIGHT: Final = "LC/failed-in-flight"
FORGOTTEN: Final = "LC/forgotten-generations"
EVICT_FORGETS: Final = "LC/evict-forgets"
DRAIN_RETRY: Final = "LC/drain-retry"
#: Not an open choice but the SHOULD of LC-04 and LC-05: turns completed while
#: a commit of their session is in flight coalesce, or form one segment each.
#: LC-17 checks MUSTs, so it accepts both (and reports neither).
IN_FLIGHT_TURNS: Final = "turns completed during a commit"

#: Every choice the model follows, with its branches (the first is tried first).
BRANCHES: Final[dict[str, tuple[str, ...]]] = {
    **{
        choice: tuple(CHOICES[choice].branches)
        for choice in (
            UNOWNED,
            TURN_AGENT,
            ADOPTION,
            ADOPTED_MERGE,
            FAILED_IN_FLIGHT,
            FORGOTTEN,
            EVICT_FORGETS,
            DRAIN_RETRY,
        )
    },
    IN_FLIGHT_TURNS: ("coalesce", "split"),
}

#: One comparison of a step: what, the model's value, the provider's.
Check = tuple[str, Any, Any]


def call_text(obj: Any, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """How a call of the guarded *obj* reads in trace lines and failure messages."""
    parts = [short_repr(a) for a in args] + [f"{k}={short_repr(v)}" for k, v in kwargs.items()]
    return f"{obj!r}.{method}({', '.join(parts)})"


def spawn_call(kit: Kit, obj: Any, method: str, *args: Any, **kwargs: Any) -> WatchedTask[Any]:
    """Spawn the guarded ``obj.method(*args, **kwargs)`` on a kit worker watched for parking.

    The guarded method runs inline on the watched worker, so the call is
    still traced and its result checked (see :mod:`pytest_lifecycle._probes.parking`).
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


# -- the model ---------------------------------------------------------------------


class _Undecided(Exception):
    """The model needs the branch of a choice this reading has not fixed yet."""

    def __init__(self, choice: str) -> None:
        super().__init__(choice)
        self.choice = choice


class _Impossible(Exception):
    """The provider answered what no model under this reading can."""


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
    #: The session was (``"discard"``) or may have been (``"evict"``) forgotten
    #: at this generation; the next one tells which branches the provider took.
    forgotten: tuple[str, int] | None = None

    def copy(self) -> _ModelSession:
        return _ModelSession(self.handle, [_Run(r.owner, r.turns) for r in self.runs], self.generation, self.forgotten)


class SessionModel:
    """The plain sequential model of one coordinator, under one reading of the open choices.

    It predicts which agent each commit calls and which turns that call
    flushes, and counts the calls and closes each agent must have seen.
    ``branches`` holds the branch of every choice this model has needed so
    far; asking for another raises :class:`_Undecided` (see :class:`Readings`).
    """

    def __init__(self) -> None:
        self.branches: dict[str, str] = {}
        self.sessions: dict[str, _ModelSession] = {}
        #: The commit held inside the provider: its session, owner and the turns it flushes.
        self.held: tuple[str, GatedAgent, int] | None = None
        self.calls: Counter[GatedAgent] = Counter()
        self.closes: Counter[GatedAgent] = Counter()
        #: (session, agent) of every provider call since this copy was made.
        self.log: list[tuple[str, GatedAgent]] = []

    def copy(self) -> SessionModel:
        new = SessionModel()
        new.branches = dict(self.branches)
        new.sessions = {sid: state.copy() for sid, state in self.sessions.items()}
        new.held = self.held
        new.calls = self.calls.copy()
        new.closes = self.closes.copy()
        return new

    def branch(self, choice: str) -> str:
        try:
            return self.branches[choice]
        except KeyError:
            raise _Undecided(choice) from None

    def reading(self) -> str:
        return ", ".join(f"{choice}={branch}" for choice, branch in self.branches.items())

    def session(self, sid: str) -> _ModelSession:
        return self.sessions.setdefault(sid, _ModelSession())

    def dirty(self, sid: str) -> bool:
        state = self.sessions.get(sid)
        return state is not None and bool(state.runs)

    def in_flight(self, sid: str) -> bool:
        return self.held is not None and self.held[0] == sid

    def describe(self, sid: str) -> str:
        state = self.sessions.get(sid)
        runs = state.runs if state else []
        flight = f", {self.held[2]} turn(s) of the oldest in flight" if self.held and self.held[0] == sid else ""
        return f"model segments of {sid!r}, oldest first: {runs}{flight}"

    # -- turns and handles ---------------------------------------------------

    def register(self, sid: str, agent: GatedAgent | None) -> None:
        self.session(sid).handle = agent

    def mark(self, sid: str, agent: GatedAgent | None, generation: int) -> None:
        state = self.session(sid)
        self._generation(sid, state, generation)
        if agent is not None and agent is not state.handle and self.branch(TURN_AGENT) == "becomes-handle":
            state.handle = agent
        owner = agent if agent is not None else state.handle
        newest = state.runs[-1] if state.runs else None
        if newest is None or newest.owner is not owner:
            state.runs.append(_Run(owner, 1))
        elif not self.in_flight(sid):
            newest.turns += 1  # LC-04: turns with one owner coalesce
        elif self.branch(IN_FLIGHT_TURNS) == "split":
            state.runs.append(_Run(owner, 1))
        elif len(state.runs) == 1 and self.branch(FAILED_IN_FLIGHT) == "apart":
            state.runs.append(_Run(owner, 1))  # the segment in flight stays as it was claimed
        else:
            newest.turns += 1

    def _generation(self, sid: str, state: _ModelSession, got: int) -> None:
        """LC-03, and what a generation after a forget says about the provider's choices."""
        last, forgotten = state.generation, state.forgotten
        state.generation, state.forgotten = got, None
        what = f"mark_turn_completed({sid!r}) returned generation {got}"
        if forgotten is None:
            if last is not None and got <= last:
                raise _Impossible(f"{what}, not greater than the previous {last}")
            return
        kind, before = forgotten
        if kind == "evict" and self.branch(EVICT_FORGETS) == "keeps":
            if got <= before:
                raise _Impossible(
                    f"{what} after an eviction that kept the session, not greater than the previous {before}"
                )
            return
        if self.branch(FORGOTTEN) == "continue":
            if got <= before:
                raise _Impossible(
                    f"{what} after the session was forgotten, not greater than the {before} it had reached"
                )
        elif got > before:
            raise _Impossible(
                f"{what} after the session was forgotten at generation {before}: the count did not restart"
            )

    # -- commits -------------------------------------------------------------

    def _adopter(self, state: _ModelSession, agent: GatedAgent | None) -> GatedAgent | None:
        """Who takes un-owned work at a commit: the explicit agent, or maybe the handle."""
        if agent is not None:
            return agent
        if state.handle is not None and self.branch(UNOWNED) == "handle":
            return state.handle
        return None

    def callee(self, sid: str, agent: GatedAgent | None) -> GatedAgent | None:
        """Who the next commit of *sid* calls (``None``: no call)."""
        state = self.sessions.get(sid)
        if state is None or not state.runs or self.in_flight(sid):
            return None
        owner = state.runs[0].owner
        return owner if owner is not None else self._adopter(state, agent)

    def claim(self, sid: str, agent: GatedAgent | None) -> tuple[GatedAgent, int] | None:
        """Start a commit: the owner called and the turns it flushes, or ``None``."""
        state = self.sessions.get(sid)
        if state is None or not state.runs or self.in_flight(sid):
            return None
        oldest = state.runs[0]
        if oldest.owner is None:
            adopter = self._adopter(state, agent)
            if adopter is None:
                return None
            self._adopt(state.runs, adopter)  # whatever the call's outcome (LC-07)
        owner = oldest.owner
        assert owner is not None
        self.calls[owner] += 1
        self.log.append((sid, owner))
        return owner, oldest.turns

    def _adopt(self, runs: list[_Run], adopter: GatedAgent) -> None:
        adopted = [0]
        if any(run.owner is None for run in runs[1:]) and self.branch(ADOPTION) == "every-unowned":
            adopted = [i for i, run in enumerate(runs) if run.owner is None]
        for i in reversed(adopted):
            runs[i].owner = adopter
            if i + 1 < len(runs) and runs[i + 1].owner is adopter and self.branch(ADOPTED_MERGE) == "merges":
                runs[i].turns += runs.pop(i + 1).turns

    def settle(self, sid: str, turns: int, ok: bool) -> None:
        """A commit returned; on success only the turns it claimed are clean (LC-05)."""
        if not ok:
            return
        runs = self.sessions[sid].runs
        runs[0].turns -= turns
        if runs[0].turns == 0:
            runs.pop(0)

    def commit(self, sid: str, agent: GatedAgent | None, ok: bool = True) -> GatedAgent | None:
        claim = self.claim(sid, agent)
        if claim is None:
            return None
        self.settle(sid, claim[1], ok)
        return claim[0]

    def hold(self, sid: str, agent: GatedAgent | None) -> None:
        claim = self.claim(sid, agent)
        assert claim is not None, "the machine holds only a commit every reading calls"
        self.held = (sid, *claim)

    def release(self, ok: bool) -> None:
        assert self.held is not None
        sid, _, turns = self.held
        self.held = None
        self.settle(sid, turns, ok)

    # -- boundaries ----------------------------------------------------------

    def drain(self, failing: GatedAgent | None = None) -> None:
        """Every session, every segment someone can flush, oldest first (LC-11).

        The first call to *failing* fails: its session is left dirty or
        retried (LC/drain-retry); the other sessions are flushed anyway.
        """
        for sid in list(self.sessions):
            while (claim := self.claim(sid, None)) is not None:
                owner, turns = claim
                if owner is failing:
                    failing = None  # one injected failure
                    if self.branch(DRAIN_RETRY) == "no-retry":
                        break
                    continue
                self.settle(sid, turns, ok=True)

    def evict(self, sid: str, agent: GatedAgent, failing: GatedAgent | None = None) -> bool:
        """Flush everything (*agent* adopts un-owned work), drop the handle, close once (LC-15).

        A failed commit -- the first call to *failing* -- ends the eviction:
        ``False``, nothing closed, the work and the handle kept.
        """
        while (claim := self.claim(sid, agent)) is not None:
            owner, turns = claim
            if owner is failing:
                return False
            self.settle(sid, turns, ok=True)
        state = self.session(sid)
        state.handle = None
        self.closes[agent] += 1
        if state.generation is not None:
            state.forgotten = ("evict", state.generation)  # kept or forgotten: LC/evict-forgets
        return True

    def discard(self, sid: str) -> bool:
        """Forget a clean, idle session (LC-16); ``False`` if dirty or in flight."""
        if self.in_flight(sid) or self.dirty(sid):
            return False
        state = self.sessions.get(sid)
        if state is not None:
            before = state.generation if state.generation is not None else (state.forgotten or ("", None))[1]
            state.forgotten = None if before is None else ("discard", before)
            state.handle, state.generation = None, None
        return True


def _effect(change: Callable[[SessionModel], object]) -> Callable[[SessionModel], Sequence[Check]]:
    """The act of a step that returns nothing to compare: only its *change* to the model."""

    def act(model: SessionModel) -> Sequence[Check]:
        change(model)
        return ()

    return act


def _released_then_drained(model: SessionModel) -> None:
    model.release(ok=True)
    model.drain()


def _same(got: Any, expected: Any) -> bool:
    """As :meth:`Kit.expect` compares: ``True``/``False``/``None`` by identity, ints and strs by type too."""
    if expected is True or expected is False or expected is None:
        return got is expected
    if isinstance(expected, (int, str)):
        return type(got) is type(expected) and got == expected
    return bool(got == expected)


def _wrong(checks: Iterable[Check]) -> str | None:
    for what, expected, got in checks:
        if not _same(got, expected):
            return f"{what}: expected {short_repr(expected)}, got {short_repr(got)}"
    return None


class Readings:
    """The readings of the open choices that the provider's answers still allow, one model each.

    A step that needs a choice a reading has not fixed continues once per
    branch (the branch the kit has observed, if any); the provider's answers
    then drop the readings that disagree.  When every reading left takes one
    branch of a choice, the kit observes it: the report names it, and from
    then on a step that only the other branch explains fails, naming both.
    """

    def __init__(self, kit: Kit) -> None:
        self.kit = kit
        self.models = [SessionModel()]
        #: Steps so far in this example (named in the evidence of an observation).
        self.steps = 0

    def _run(
        self, models: Iterable[SessionModel], act: Callable[[SessionModel], Any]
    ) -> list[tuple[SessionModel, Any]]:
        """*act* on a copy of every model, forked per branch where it needs one: (copy, result or _Impossible)."""
        done: list[tuple[SessionModel, Any]] = []
        todo = deque(models)
        while todo:
            model = todo.popleft()
            trial = model.copy()
            try:
                done.append((trial, act(trial)))
            except _Undecided as undecided:
                seen = self.kit.choice(undecided.choice) if undecided.choice in CHOICES else None
                for branch in reversed((seen,) if seen else BRANCHES[undecided.choice]):
                    fork = model.copy()
                    fork.branches[undecided.choice] = branch
                    todo.appendleft(fork)
            except _Impossible as impossible:
                done.append((trial, impossible))
        return done

    def peek(self, act: Callable[[SessionModel], Any]) -> list[Any]:
        """What *act* gives under every reading, changing none."""
        return [result for _, result in self._run(self.models, act) if not isinstance(result, _Impossible)]

    def step(
        self,
        what: str,
        act: Callable[[SessionModel], Sequence[Check]],
        state: Callable[[SessionModel], Sequence[Check]],
    ) -> None:
        """Apply the step *act* (its checks, then the *state* checks) and keep the readings that agree."""
        __tracebackhide__ = True
        self.steps += 1
        what = f"state-machine step {self.steps}, {what}"

        def check(model: SessionModel) -> str | None:
            return _wrong([*act(model), *state(model)])

        results = [(m, str(r) if isinstance(r, _Impossible) else r) for m, r in self._run(self.models, check)]
        survivors = [model for model, problem in results if problem is None]
        if not survivors:
            self._contradiction(what, check)
            model, problem = results[0]
            reading = f" (reading the open choices as {model.reading()})" if model.branches else ""
            self.kit.fail(f"{problem}{reading}")
        self.models = survivors
        for choice in BRANCHES:
            if choice in CHOICES and self.kit.choice(choice) is None:
                taken = {model.branches.get(choice) for model in survivors}
                if len(taken) == 1 and None not in taken:
                    self.kit.observe_choice(choice, str(taken.pop()), what)

    def _contradiction(self, what: str, check: Callable[[SessionModel], str | None]) -> None:
        """Fail as a contradiction if the other branch of an observed choice explains the step."""
        __tracebackhide__ = True
        for model in self.models:
            for choice, branch in model.branches.items():
                if choice not in CHOICES or self.kit.choice(choice) != branch:
                    continue
                for other in BRANCHES[choice]:
                    if other == branch:
                        continue
                    flipped = model.copy()
                    flipped.branches[choice] = other
                    if any(problem is None for _, problem in self._run([flipped], check)):
                        self.kit.observe_choice(choice, other, what)


# -- the machine ---------------------------------------------------------------------


@dataclass(slots=True)
class _Flight:
    """The commit held inside the provider (every reading agrees on its owner)."""

    sid: str
    owner: GatedAgent
    task: Task[Any]


def session_lifecycle_machine(
    factory: Callable[[], Any],
    kit: Kit,
    *,
    eviction: bool,
    make_agent: Callable[[], GatedAgent] | None = None,
) -> type[RuleBasedStateMachine]:
    """A state machine checking the coordinators *factory* builds against :class:`SessionModel`.

    :param factory: returns a fresh guarded coordinator (one per example).
    :param kit: the test's kit: assertions, timeouts, agent gates, open choices.
    :param eviction: the provider claims ``evict_session`` (adds the evictions).
    :param make_agent: builds agent doubles (default: ``GatedAgent(kit)``).  At
        most three are made per test and reused by every example, each with
        its counts taken afresh, so failure traces name the same three agents.
    :returns: a ``RuleBasedStateMachine`` subclass; run it with
        :func:`pytest_lifecycle.run_machine`.
    """
    new_agent = make_agent or (lambda: GatedAgent(kit))
    boundaries = ("drain", "evict") if eviction else ("drain",)
    endings = ENDINGS if eviction else tuple(e for e in ENDINGS if e != "evict")
    pool: list[GatedAgent] = []

    class SessionLifecycleMachine(RuleBasedStateMachine):
        sessions = Bundle("sessions")
        agents = Bundle("agents")

        def __init__(self) -> None:
            super().__init__()
            # Failure messages show the calls of this example only; its
            # coordinator makes its open choices afresh.
            kit.restart_trace(f"{kit.rule.id} example on a fresh coordinator")
            self.readings = Readings(kit)
            self.flight: _Flight | None = None
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
            return self.flight.owner if self.flight else None

        def _bound(self) -> tuple[float, str]:
            """How long a call made now may take, and why (for the hang message).

            While a commit is held, every call the machine makes in between
            must return promptly: the held commit is released only after
            it returns, so a call waiting for it would wait forever.
            """
            flight = self.flight
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

        def _verify(self, what: str, act: Callable[[SessionModel], Sequence[Check]] = lambda m: ()) -> None:
            """The step *what* happened: apply *act* to every reading, compare each with the provider."""
            __tracebackhide__ = True
            # One kit call for every session (one thread hop per step), and no
            # trace lines: failure messages show the steps, not the queries.
            raw = unwrap(self.lc)
            limit, why = self._bound()
            with self._hangs_stop(why):
                dirty = kit.call(lambda: [raw.has_uncommitted_work(sid) for sid in SIDS], what=QUERY, timeout=limit)
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
            self._verify(
                f"register_agent({SIDS[0]!r}, {agents[0]!r})", _effect(lambda m: m.register(SIDS[0], agents[0]))
            )
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
                self._call("mark_turn_completed", sid, **({} if agent is None else {"agent": agent}))
                for agent in owners
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
            options = {"wait": True, "timeout": kit.timeout} if wait else {}
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
                        f"provider {kit.provider.name!r} still inside {task.what} {kit.timeout:g}s after it was "
                        f"called, without calling {callee!r}.commit_memory_session() (the owner of the oldest "
                        "segment)",
                        kit.steps(),
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
        @rule(ending=st.sampled_from(endings), agent=st.none() | agents, arm=st.none() | agents)
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
                waiting = self._start("commit_session_memory", sid, *self._with(agent), wait=True, timeout=kit.timeout)
                check_still_waiting(kit, waiting, held)
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
                    task = self._start("drain_all_on_shutdown", deadline=kit.timeout / 2)
                else:
                    task = self._start("evict_session", sid, evictor)
                check_still_waiting(kit, task, f"the commit of {sid!r}")
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
                    checks.append(
                        (f"evict_session({sid!r}, {evictor!r}) (True only if it closed the agent)", closed, got)
                    )
                return checks

            failing = f", failing {arm!r}" if arm is not None else ""
            self._verify(f"{kind} meeting the held commit of {sid!r}{failing}", act)

        # -- boundaries --------------------------------------------------------

        @rule(kind=st.sampled_from(boundaries), sid=sessions, agent=agents, arm=st.none() | agents)
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
                    got = self._call("drain_all_on_shutdown", deadline=kit.timeout / 2)
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

    return SessionLifecycleMachine


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
