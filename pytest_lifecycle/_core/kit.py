"""The :class:`Kit`: what one conformance test holds.

A kit knows the test's rule and provider, runs provider calls with a
deadline, builds fresh instances, keeps the trace of every call for failure
messages, and owns the gates of the test doubles.  At teardown it opens every
gate and makes sure no provider thread outlived the test.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, NoReturn, TypeVar

from pytest_lifecycle._core.catalogue import Rule, get_choice
from pytest_lifecycle._core.context import Context, KitClock
from pytest_lifecycle._core.errors import HARNESS_MODULES, NotClaimed, ProviderError, ProviderRaised, RuleViolation
from pytest_lifecycle._core.gate import Gate
from pytest_lifecycle._core.provider import NOT_CLAIMED, Provider
from pytest_lifecycle._core.runner import HUNG_GRACE, Runner, Task
from pytest_lifecycle._core.surface import Guarded, GuardedContextManager, Surface, short_repr

__all__ = ["NOT_CLAIMED", "ContractSupport", "Kit"]

T = TypeVar("T")

#: The bound for "returns promptly" (LC-14, RS-06, LK-03): generous for a
#: call that takes no lock, short enough that a mutant fails in about a second.
PROMPT: Final = 1.0

#: How many trace entries a failure message shows.
STEPS_SHOWN: Final = 14


def _no_extras(kit: Kit) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ContractSupport:
    """How the kit builds and drives one contract (each contract's support module declares one)."""

    #: The object a factory returns.
    surface: Surface
    #: Surfaces of objects it hands out (sessions, locks, …).
    nested: tuple[Surface, ...] = ()
    #: Extras every context of this contract carries (``kit -> {name: value}``).
    context_extras: Callable[[Kit], dict[str, Any]] = field(default=_no_extras)


def _not_claimed(reason: str) -> NoReturn:
    raise NotClaimed(reason)


class Kit:
    """Everything a conformance test drives the provider with.

    :param provider: the provider under test.
    :param rule: the rule the test checks.
    :param timeout: seconds before a provider call counts as hung.
    :param directory: where fresh context directories are made.
    :param profile: the lifecycle profile (sizes of churn, crash loops, …).
    :param nodeid: the test's node id (for replay commands).
    :param level: ``"should"`` when the whole test checks the rule's SHOULD.
    :param strict: a broken SHOULD fails the test at once (``--lifecycle-strict``).
    :param contracts: contract name → its :class:`ContractSupport` (the
        surfaces the kit guards instances with); the plugin passes every
        contract's.
    :param skip: how an unclaimed rule ends the test (the plugin passes
        ``pytest.skip``; by default :class:`~pytest_lifecycle.NotClaimed` is raised).
    """

    def __init__(
        self,
        *,
        provider: Provider,
        rule: Rule,
        timeout: float,
        directory: Path,
        profile: Any = None,
        nodeid: str = "",
        level: str = "must",
        strict: bool = False,
        contracts: Mapping[str, ContractSupport] = MappingProxyType({}),
        skip: Callable[[str], NoReturn] = _not_claimed,
    ) -> None:
        self.provider: Final = provider
        self.rule: Final = rule
        self.contracts: Final = contracts
        self._skip: Final = skip
        self.timeout: Final = timeout
        self.prompt: Final = min(PROMPT, timeout)
        self.profile = profile
        self.nodeid: Final = nodeid
        #: What to pass to pytest to run this test again.
        self.replay_target = f"'{nodeid}'"
        self.clock: Final = KitClock()
        self.runner: Final = Runner(rule=rule.id, provider=provider.name, timeout=timeout, on_done=self.task_finished)
        self._directory = directory
        self._contexts = itertools.count(1)
        self._trace: list[str] = []
        self._trace_lock = threading.Lock()
        self._gates: list[Gate] = []
        self._labels: dict[str, itertools.count[int]] = {}
        self._cleanups: list[Callable[[], None]] = []
        #: Threads alive before the test: any other left running at the end
        #: is named in the run's summary (see :meth:`close`).
        self._threads_before = {t.ident for t in threading.enumerate()}
        #: Calls and provider threads still running after the test.
        self.abandoned: list[str] = []
        self.level: Final = level
        self.strict: Final = strict
        #: SHOULD violations seen (non-strict mode records them and goes on).
        self.should_broken: list[str] = []
        #: Every branch of every open choice observed during the test.
        self.choices_seen: dict[str, set[str]] = {}
        #: The branches observed in the current scope (the test, or one
        #: state-machine example: see :meth:`restart_trace`) and why.
        self._choices: dict[str, tuple[str, str]] = {}
        #: id() of exceptions that came out of provider calls → verdict message.
        self._raised: dict[int, str] = {}

    def replay_command(self) -> str:
        """The command that runs this test again with the same provider and profile."""
        command = f"pytest {self.replay_target} --lifecycle-provider {self.provider.spec or self.provider.name}"
        if self.profile is not None and self.profile.name != "ci":
            # A seed replays only under the same settings.
            command += f" --lifecycle-profile {self.profile.name}"
        return command

    # -- claims -----------------------------------------------------------

    def require(self, contract: str | None = None, capability: str | None = None) -> None:
        """Skip as *not claimed* unless the provider claims what the rule needs."""
        contract = contract or self.rule.contract
        if not self.provider.claims(contract):
            self._skip(f"{NOT_CLAIMED}: provider {self.provider.name!r} does not implement {contract} ({self.rule.id})")
        capability = capability or self.rule.capability
        if capability and not self.provider.claims_capability(capability):
            self._skip(
                f"{NOT_CLAIMED}: provider {self.provider.name!r} does not claim capability "
                f"{capability!r} ({self.rule.id})"
            )

    # -- instances --------------------------------------------------------

    def context(self, contract: str | None = None, **extras: Any) -> Context:
        """A fresh context: a new empty directory, the kit clock, *extras*."""
        contract = contract or self.rule.contract
        path = self._directory / f"ctx-{next(self._contexts)}"
        path.mkdir(parents=True)
        return Context(path, self.clock, contract=contract, extras=extras)

    def instance(self, contract: str | None = None, ctx: Context | None = None) -> Any:
        """A fresh guarded instance built by the provider's factory.

        Pass the *ctx* of an earlier instance to simulate a restart (the old
        instance is not closed: that is the crash).
        """
        __tracebackhide__ = True
        contract = contract or self.rule.contract
        self.require(contract, capability="")
        support = self.contract_support(contract)
        if ctx is None:
            ctx = self.context(contract, **support.context_extras(self))
        factory = self.provider.factories[contract]
        try:
            raw = self.runner.call(factory, ctx, what=f"the {contract} factory")
        except Exception as exc:
            if isinstance(exc, RuleViolation) and not isinstance(exc, ProviderRaised):
                raise
            # The runner wraps what the factory raised; report the original either way.
            original = exc.original if isinstance(exc, ProviderRaised) else exc
            raise ProviderError(
                f"the {contract} factory raised {type(original).__name__}: {original}",
                provider=self.provider.name,
                contract=contract,
                rule=self.rule.id,
            ) from original
        if raw is None:
            raise ProviderError(
                f"the {contract} factory returned None instead of an instance",
                provider=self.provider.name,
                contract=contract,
                rule=self.rule.id,
            )
        return self.guard(raw, support.surface.name)

    def guard(self, obj: Any, surface: str) -> Any:
        """Wrap a provider object in the proxy of the named surface."""
        spec = self.surface(surface)
        label = self.label(spec.name)
        cls = GuardedContextManager if spec.context_manager else Guarded
        return cls(obj, spec, self, label)

    def contract_support(self, contract: str) -> ContractSupport:
        """The :class:`ContractSupport` of *contract* the kit was given."""
        try:
            return self.contracts[contract]
        except KeyError:
            raise LookupError(f"the kit was given no support for contract {contract!r} (kit bug)") from None

    def surface(self, name: str) -> Surface:
        """Any contract's surface, by name."""
        for support in self.contracts.values():
            for surface in (support.surface, *support.nested):
                if surface.name == name:
                    return surface
        raise LookupError(f"no contract given to the kit declares a surface named {name!r} (kit bug)")

    def label(self, stem: str, *, numbered: bool = False) -> str:
        """A short unique name for trace lines: ``store``, ``store-2``, ``agent-1``."""
        n = next(self._labels.setdefault(stem, itertools.count(1)))
        return f"{stem}-{n}" if numbered or n > 1 else stem

    # -- calls ------------------------------------------------------------

    def spawn(self, fn: Callable[..., T], *args: Any, what: str | None = None, **kwargs: Any) -> Task[T]:
        """Run ``fn`` on a worker thread; see :class:`~pytest_lifecycle._core.runner.Task`."""
        return self.runner.spawn(fn, *args, what=what, **kwargs)

    def call(
        self, fn: Callable[..., T], *args: Any, what: str | None = None, timeout: float | None = None, **kwargs: Any
    ) -> T:
        """Run a block of provider calls on one worker, bounded by the timeout."""
        __tracebackhide__ = True
        return self.runner.call(fn, *args, what=what, timeout=timeout, **kwargs)

    # -- trace and checks -------------------------------------------------

    def note(self, step: str) -> None:
        """Add a line to the trace that failure messages show (every call of a test double does)."""
        self.runner.stop_if_abandoned()
        with self._trace_lock:
            self._trace.append(step)

    def restart_trace(self, heading: str) -> None:
        """Forget the trace so far and start it again with *heading*.

        A state machine calls it at the start of each Hypothesis example, so
        that a failure shows the calls of the failing example only.
        """
        with self._trace_lock:
            self._trace[:] = [heading]
        # A fresh instance may make its open choices afresh.
        self._choices.clear()

    def steps(self, last: int = STEPS_SHOWN) -> str:
        with self._trace_lock:
            shown = self._trace[-last:]
            skipped = len(self._trace) - len(shown)
        if not shown:
            return "no steps"
        lead = f"… {skipped} earlier steps; " if skipped else ""
        return lead + "; ".join(shown)

    def fail(self, message: str) -> NoReturn:
        """Fail the rule: ``[RULE] message after <steps>``."""
        __tracebackhide__ = True
        raise RuleViolation(self.rule.id, f"{message} after {self.steps()}")

    def should(self, condition: object, message: str) -> None:
        """A SHOULD of the rule: record a breach unless *condition* holds.

        In strict mode the test fails at once, like :meth:`check`; otherwise
        the test goes on (its MUSTs are still checked) and is reported
        ``non-strict`` if nothing else fails.
        """
        __tracebackhide__ = True
        if condition:
            return
        if self.rule.should is None:
            raise RuleViolation(self.rule.id, "the kit checks a SHOULD that the catalogue does not declare (kit bug)")
        text = f"SHOULD: {message} after {self.steps()}"
        if self.strict:
            raise RuleViolation(self.rule.id, text, level="should")
        self.should_broken.append(text)

    def provider_raised(self, exc: BaseException, call: str) -> None:
        """Remember that *exc* came out of the provider's *call*.

        The exception propagates as it is (a suite may expect it); if it
        ends the test, the verdict says who raised it, with the rule's ID.
        """
        self._raised[id(exc)] = (
            f"[{self.rule.id}] provider {self.provider.name!r} raised {type(exc).__name__}: {exc} in {call} "
            f"after {self.steps()}"
        )

    def raised_by_provider(self, exc: BaseException | None) -> str | None:
        """The verdict message if *exc* (or what it was raised from) came out of the provider."""
        seen = exc
        while seen is not None:
            if id(seen) in self._raised:
                return self._raised[id(seen)]
            seen = seen.__cause__ or seen.__context__
        # Not through a guarded call (a suite that calls the provider's own
        # object): the innermost frame tells whose code raised it.
        tb = exc.__traceback__ if exc is not None else None
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if exc is None or tb is None or tb.tb_frame.f_globals.get("__name__", "").startswith(HARNESS_MODULES):
            return None
        code = tb.tb_frame.f_code
        return (
            f"[{self.rule.id}] provider {self.provider.name!r} raised {type(exc).__name__}: {exc} in "
            f"{code.co_name}() ({Path(code.co_filename).name}:{tb.tb_lineno}) after {self.steps()}"
        )

    def observe_choice(self, choice_id: str, branch: str, evidence: str) -> None:
        """The provider took *branch* of the open choice *choice_id*.

        Every branch is allowed; taking two within one scope (one test, or
        one state-machine example) is not, since then no model can follow
        the provider: that fails the rule, naming both observations.
        """
        __tracebackhide__ = True
        get_choice(choice_id, branch)
        self.choices_seen.setdefault(choice_id, set()).add(branch)
        earlier = self._choices.setdefault(choice_id, (branch, evidence))
        if earlier[0] != branch:
            self.fail(
                f"contradictory open choice {choice_id}: the provider took {earlier[0]!r} ({earlier[1]}) "
                f"and then {branch!r} ({evidence}) on one instance"
            )

    def choice(self, choice_id: str) -> str | None:
        """The branch of *choice_id* observed in the current scope (``None``: not yet)."""
        seen = self._choices.get(choice_id)
        return seen[0] if seen else None

    def check(self, condition: object, message: str) -> None:
        """Fail the rule with *message* unless *condition* holds."""
        __tracebackhide__ = True
        if not condition:
            self.fail(message)

    def expect(self, got: Any, expected: Any, what: str) -> None:
        """``got`` must equal ``expected`` (and be the same kind of thing).

        ``True``/``False``/``None`` are compared by identity so that ``1`` is
        not accepted for ``True``.
        """
        __tracebackhide__ = True
        if expected is True or expected is False or expected is None:
            ok = got is expected
        else:
            ok = (
                type(got) is type(expected) and got == expected if isinstance(expected, (int, str)) else got == expected
            )
        if not ok:
            self.fail(f"{what}: expected {short_repr(expected)}, got {short_repr(got)}")

    # -- gates and teardown -----------------------------------------------

    def gate(self, name: str, *, closed: bool = False) -> Gate:
        """A new :class:`~pytest_lifecycle.Gate` owned by this kit."""
        gate = Gate(self, name, closed=closed)
        self._gates.append(gate)
        return gate

    def task_finished(self) -> None:
        # Gates waiting "until entered, unless the task ended" re-check.
        for gate in list(self._gates):
            gate.poke()

    def on_close(self, fn: Callable[[], None]) -> None:
        """Run *fn* at teardown (after the gates are opened)."""
        self._cleanups.append(fn)

    def close(self, *, failed: bool = False) -> None:
        """Open every gate, then make sure no provider call outlived the test.

        :param failed: the test already failed (a hang, say): calls still
            running are abandoned and named in :attr:`abandoned`, not failed
            a second time, and not waited for a second timeout.
        """
        __tracebackhide__ = True
        for gate in self._gates:
            gate.open()
        errors: list[BaseException] = []
        for fn in reversed(self._cleanups):
            try:
                fn()
            except BaseException as exc:  # reported below, after every cleanup ran
                errors.append(exc)
        stuck = self.runner.close(HUNG_GRACE if failed else None, failed=failed)
        # Cleanups (an event loop's thread, say) may have named some already.
        self.abandoned += [f"{t.thread_name or 'lifecycle-call'}: {t.what}" for t in stuck]
        self.abandoned += [
            f"{t.name}: started by the provider, still running after the test"
            for t in threading.enumerate()
            if t.ident not in self._threads_before and t.is_alive() and not t.name.startswith("lifecycle-")
        ]
        if stuck and not failed:
            what = ", ".join(t.what for t in stuck)
            raise RuleViolation(
                self.rule.id,
                f"provider {self.provider.name!r} still inside {what} {self.timeout:g}s after the test "
                "released every gate (its thread is abandoned)",
            )
        if errors:
            raise errors[0]
