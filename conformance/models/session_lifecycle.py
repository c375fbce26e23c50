"""The sequential model of a session-lifecycle coordinator (§1a).

Sessions, their dirty turns and the agents that own them, as plain Python:
:class:`SessionModel` predicts, for every call of the surface, which agent
a commit calls and which turns that call flushes, what each call returns,
and how often each agent must have been called and closed.  The rules it
encodes, by method:

- :meth:`SessionModel.mark` — LC-03 (§1a): generations strictly increase;
  LC-04: turns with one owner coalesce into one segment; LC-08: a turn
  keeps the owner it completed with (its explicit agent, or the handle);
- :meth:`SessionModel.claim` / :meth:`SessionModel.settle` — LC-09: one
  segment per commit, the oldest, always by its owner; LC-07: an explicit
  agent adopts un-owned work whatever the outcome; LC-05: a commit that
  returns clears only the turns it claimed; LC-06: a failed one clears none;
- :meth:`SessionModel.commit` — LC-02/LC-06: ``True`` only when a provider
  call flushed work and succeeded; LC-13: ``wait=False`` while in flight
  returns ``False`` (the machine checks it);
- :meth:`SessionModel.drain` — LC-11: every session, every segment someone
  can flush, oldest first; a failed session does not stop the others;
- :meth:`SessionModel.evict` — LC-15: flush everything (the evicting agent
  adopts un-owned work), drop the handle, close the agent once; a failed
  commit ends it with ``False``, nothing closed;
- :meth:`SessionModel.discard` — LC-16: only a clean, idle session is forgotten;
- LC-10: unregistering (:meth:`SessionModel.register` with ``None``) keeps the work.

LC-17 (§1a) is this model against a provider: every completed generation
committed exactly once, by its owner, and ``has_uncommitted_work`` agreeing
after every step.

Open choices.  Where the contract allows several behaviours (the open
choices ``LC/…`` of §1a, and the SHOULD of LC-04/LC-05: turns completed
while a commit is in flight may form one segment each), the model does not
take the reference's side.  A :class:`SessionModel` asks
:meth:`~SessionModel.branch` for the branch of every choice it needs and
raises :class:`Undecided` when its reading has not fixed it;
:class:`Readings` keeps one model per reading the provider's answers still
allow, forks a reading per branch where it needs one, and drops the
readings the answers contradict.  Once every reading left takes the same
branch it reports it (``observe_choice``) and follows it from then on; a
provider that then answers as only the other branch can is reported with
both observations.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn, Protocol

__all__ = [
    "ADOPTED_MERGE",
    "ADOPTION",
    "BRANCHES",
    "DRAIN_RETRY",
    "EVICT_FORGETS",
    "FAILED_IN_FLIGHT",
    "FORGOTTEN",
    "IN_FLIGHT_TURNS",
    "OPEN_CHOICES",
    "TURN_AGENT",
    "UNOWNED",
    "Check",
    "ChoiceLog",
    "Impossible",
    "Readings",
    "SessionModel",
    "Undecided",
]

#: An agent: the model only compares identities and shows ``repr``.
Agent = Any

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

#: The open choices of §1a the model follows, with their branches as the
#: contract lists them (the first is tried first).
OPEN_CHOICES: Final[dict[str, tuple[str, ...]]] = {
    UNOWNED: ("explicit-agent", "handle"),
    TURN_AGENT: ("turn-only", "becomes-handle"),
    ADOPTION: ("oldest", "every-unowned"),
    ADOPTED_MERGE: ("merges", "separate"),
    FAILED_IN_FLIGHT: ("joined", "apart"),
    FORGOTTEN: ("continue", "restart"),
    EVICT_FORGETS: ("keeps", "forgets"),
    DRAIN_RETRY: ("no-retry", "retry"),
}
#: Every choice the model follows, with its branches (the first is tried first).
BRANCHES: Final[dict[str, tuple[str, ...]]] = {**OPEN_CHOICES, IN_FLIGHT_TURNS: ("coalesce", "split")}

#: One comparison of a step: what, the model's value, the provider's.
Check = tuple[str, Any, Any]


class ChoiceLog(Protocol):
    """Where :class:`Readings` learns and reports the branches a provider took (the kit, in the suite)."""

    def choice(self, choice_id: str) -> str | None: ...

    def observe_choice(self, choice_id: str, branch: str, evidence: str) -> None: ...

    def fail(self, message: str) -> NoReturn: ...


class Undecided(Exception):
    """The model needs the branch of a choice this reading has not fixed yet."""

    def __init__(self, choice: str) -> None:
        super().__init__(choice)
        self.choice = choice


class Impossible(Exception):
    """The provider answered what no model under this reading can."""


@dataclass(slots=True)
class _Run:
    """A segment: a maximal run of dirty turns with one owner (``None``: un-owned)."""

    owner: Agent | None
    turns: int

    def __repr__(self) -> str:
        return f"{self.owner!r}×{self.turns}"


@dataclass(slots=True)
class _ModelSession:
    handle: Agent | None = None
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
    far; asking for another raises :class:`Undecided` (see :class:`Readings`).
    """

    def __init__(self) -> None:
        self.branches: dict[str, str] = {}
        self.sessions: dict[str, _ModelSession] = {}
        #: The commit held inside the provider: its session, owner and the turns it flushes.
        self.held: tuple[str, Agent, int] | None = None
        self.calls: Counter[Agent] = Counter()
        self.closes: Counter[Agent] = Counter()
        #: (session, agent) of every provider call since this copy was made.
        self.log: list[tuple[str, Agent]] = []

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
            raise Undecided(choice) from None

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

    def register(self, sid: str, agent: Agent | None) -> None:
        """``register_agent`` / ``unregister_agent`` (``None``): only the handle changes.

        Dirty work keeps its owner across a replacement (LC-08) and stays
        discoverable after unregistering (LC-10).
        """
        self.session(sid).handle = agent

    def mark(self, sid: str, agent: Agent | None, generation: int) -> None:
        """``mark_turn_completed`` returned *generation*: one dirty turn, owned by *agent* or the handle.

        LC-03 (§1a): the generation must be greater than the last one (raises
        :class:`Impossible`); LC-04: it joins the newest segment if that has
        the same owner; LC-08: its owner is fixed now (LC/turn-agent says
        whether an explicit agent also becomes the handle).
        """
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
                raise Impossible(f"{what}, not greater than the previous {last}")
            return
        kind, before = forgotten
        if kind == "evict" and self.branch(EVICT_FORGETS) == "keeps":
            if got <= before:
                raise Impossible(
                    f"{what} after an eviction that kept the session, not greater than the previous {before}"
                )
            return
        if self.branch(FORGOTTEN) == "continue":
            if got <= before:
                raise Impossible(
                    f"{what} after the session was forgotten, not greater than the {before} it had reached"
                )
        elif got > before:
            raise Impossible(
                f"{what} after the session was forgotten at generation {before}: the count did not restart"
            )

    # -- commits -------------------------------------------------------------

    def _adopter(self, state: _ModelSession, agent: Agent | None) -> Agent | None:
        """Who takes un-owned work at a commit: the explicit agent, or maybe the handle."""
        if agent is not None:
            return agent
        if state.handle is not None and self.branch(UNOWNED) == "handle":
            return state.handle
        return None

    def callee(self, sid: str, agent: Agent | None) -> Agent | None:
        """Who the next commit of *sid* calls (``None``: no call) — the owner of the oldest segment (LC-09)."""
        state = self.sessions.get(sid)
        if state is None or not state.runs or self.in_flight(sid):
            return None
        owner = state.runs[0].owner
        return owner if owner is not None else self._adopter(state, agent)

    def claim(self, sid: str, agent: Agent | None) -> tuple[Agent, int] | None:
        """Start a commit: the owner called and the turns it flushes, or ``None``.

        LC-09 (§1a): one segment per commit, the oldest, always by its owner;
        un-owned work is adopted by the explicit agent (LC/unowned-commit,
        LC/adoption) whatever the call's outcome (LC-07).
        """
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

    def _adopt(self, runs: list[_Run], adopter: Agent) -> None:
        adopted = [0]
        if any(run.owner is None for run in runs[1:]) and self.branch(ADOPTION) == "every-unowned":
            adopted = [i for i, run in enumerate(runs) if run.owner is None]
        for i in reversed(adopted):
            runs[i].owner = adopter
            if i + 1 < len(runs) and runs[i + 1].owner is adopter and self.branch(ADOPTED_MERGE) == "merges":
                runs[i].turns += runs.pop(i + 1).turns

    def settle(self, sid: str, turns: int, ok: bool) -> None:
        """A commit returned; on success only the turns it claimed are clean (LC-05), on failure none (LC-06)."""
        if not ok:
            return
        runs = self.sessions[sid].runs
        runs[0].turns -= turns
        if runs[0].turns == 0:
            runs.pop(0)

    def commit(self, sid: str, agent: Agent | None, ok: bool = True) -> Agent | None:
        """A commit that ran alone: the agent it called, or ``None`` (then it returns ``False``, LC-02).

        It returns ``True`` only when it called someone and that call succeeded (LC-06).
        """
        claim = self.claim(sid, agent)
        if claim is None:
            return None
        self.settle(sid, claim[1], ok)
        return claim[0]

    def hold(self, sid: str, agent: Agent | None) -> None:
        """A commit that is still inside its provider call: in flight (LC-05, LC-13)."""
        claim = self.claim(sid, agent)
        assert claim is not None, "the machine holds only a commit every reading calls"
        self.held = (sid, *claim)

    def release(self, ok: bool) -> None:
        """The commit in flight returned: only the turns it claimed are settled (LC-05)."""
        assert self.held is not None
        sid, _, turns = self.held
        self.held = None
        self.settle(sid, turns, ok)

    # -- boundaries ----------------------------------------------------------

    def drain(self, failing: Agent | None = None) -> None:
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

    def evict(self, sid: str, agent: Agent, failing: Agent | None = None) -> bool:
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


def _same(got: Any, expected: Any) -> bool:
    """As :meth:`Kit.expect` compares: ``True``/``False``/``None`` by identity, ints and strs by type too."""
    if expected is True or expected is False or expected is None:
        return got is expected
    if isinstance(expected, (int, str)):
        return type(got) is type(expected) and got == expected
    return bool(got == expected)


def _wrong(checks: Iterable[Check], show: Callable[[Any], str]) -> str | None:
    for what, expected, got in checks:
        if not _same(got, expected):
            return f"{what}: expected {show(expected)}, got {show(got)}"
    return None


class Readings:
    """The readings of the open choices that the provider's answers still allow, one model each.

    A step that needs a choice a reading has not fixed continues once per
    branch (the branch already observed, if any); the provider's answers
    then drop the readings that disagree.  When every reading left takes one
    branch of a choice, it is observed (``observe_choice``): the report names it, and from
    then on a step that only the other branch explains fails, naming both.
    """

    def __init__(self, choices: ChoiceLog, show: Callable[[Any], str] = repr) -> None:
        #: Where the branches the provider was seen to take are kept (the kit, in the suite).
        self.choices = choices
        #: How values read in failure messages.
        self.show = show
        self.models = [SessionModel()]
        #: Steps so far in this example (named in the evidence of an observation).
        self.steps = 0

    def _run(
        self, models: Iterable[SessionModel], act: Callable[[SessionModel], Any]
    ) -> list[tuple[SessionModel, Any]]:
        """*act* on a copy of every model, forked per branch where it needs one: (copy, result or Impossible)."""
        done: list[tuple[SessionModel, Any]] = []
        todo = deque(models)
        while todo:
            model = todo.popleft()
            trial = model.copy()
            try:
                done.append((trial, act(trial)))
            except Undecided as undecided:
                seen = self.choices.choice(undecided.choice) if undecided.choice in OPEN_CHOICES else None
                for branch in reversed((seen,) if seen else BRANCHES[undecided.choice]):
                    fork = model.copy()
                    fork.branches[undecided.choice] = branch
                    todo.appendleft(fork)
            except Impossible as impossible:
                done.append((trial, impossible))
        return done

    def peek(self, act: Callable[[SessionModel], Any]) -> list[Any]:
        """What *act* gives under every reading, changing none."""
        return [result for _, result in self._run(self.models, act) if not isinstance(result, Impossible)]

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
            return _wrong([*act(model), *state(model)], self.show)

        results = [(m, str(r) if isinstance(r, Impossible) else r) for m, r in self._run(self.models, check)]
        survivors = [model for model, problem in results if problem is None]
        if not survivors:
            self._contradiction(what, check)
            model, problem = results[0]
            reading = f" (reading the open choices as {model.reading()})" if model.branches else ""
            self.choices.fail(f"{problem}{reading}")
        self.models = survivors
        for choice in BRANCHES:
            if choice in OPEN_CHOICES and self.choices.choice(choice) is None:
                taken = {model.branches.get(choice) for model in survivors}
                if len(taken) == 1 and None not in taken:
                    self.choices.observe_choice(choice, str(taken.pop()), what)

    def _contradiction(self, what: str, check: Callable[[SessionModel], str | None]) -> None:
        """Fail as a contradiction if the other branch of an observed choice explains the step."""
        __tracebackhide__ = True
        for model in self.models:
            for choice, branch in model.branches.items():
                if choice not in OPEN_CHOICES or self.choices.choice(choice) != branch:
                    continue
                for other in BRANCHES[choice]:
                    if other == branch:
                        continue
                    flipped = model.copy()
                    flipped.branches[choice] = other
                    if any(problem is None for _, problem in self._run([flipped], check)):
                        self.choices.observe_choice(choice, other, what)
