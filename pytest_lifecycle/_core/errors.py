"""Errors the kit raises about providers.

Every message names the provider, and where known the contract and the
rule, one fact per line; the exception keeps the objects, not just text.
"""

from __future__ import annotations

__all__ = [
    "HARNESS_MODULES",
    "NotClaimed",
    "ProviderError",
    "ProviderHung",
    "ProviderRaised",
    "RuleViolation",
    "ThreadAbandoned",
    "escapes_exception",
]

#: Modules whose BaseExceptions are control flow of the test harness, not a
#: provider's doing: pytest's outcomes (skip, fail, exit), Hypothesis's
#: internal stops, the kit's own "stop, do not shrink".
HARNESS_MODULES = ("_pytest", "pytest", "hypothesis", "pytest_lifecycle", "conformance")


class ThreadAbandoned(BaseException):
    """Raised by the kit's doubles inside a provider call it gave up on, so the thread stops.

    A call still running after its test is abandoned; one that loops over a
    double (retrying a commit forever, say) would otherwise take the GIL from
    every later test of the process.  A ``BaseException``, so ``except
    Exception`` in provider code does not swallow it.
    """


def escapes_exception(exc: BaseException) -> bool:
    """Whether *exc* is a provider's BaseException that is not an ``Exception``.

    ``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit`` or any other
    ``BaseException`` raised by provider code would end the pytest session
    (or slip past ``except Exception``); the kit turns them into a failure of
    the rule under test.  A real Ctrl-C of the user arrives in the main
    thread, never through a provider call, so it still stops the run.
    """
    return not isinstance(exc, Exception) and not type(exc).__module__.startswith(HARNESS_MODULES)


class ProviderError(Exception):
    """A provider cannot be loaded, built or driven (not a rule violation).

    Raised for broken registrations (an entry point that fails to import, a
    ``module:attr`` that does not exist, a value that is not a provider) and
    for instances that do not expose the contract's surface.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        contract: str | None = None,
        rule: str | None = None,
    ) -> None:
        self.provider = provider
        self.contract = contract
        self.rule = rule
        self.detail = message
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"[{self.rule}] " if self.rule else ""
        who = []
        if self.provider is not None:
            who.append(f"provider {self.provider!r}")
        if self.contract is not None:
            who.append(f"contract {self.contract}")
        return head + (", ".join(who) + ": " if who else "") + self.detail


class RuleViolation(AssertionError):
    """A provider broke a rule.  ``str()`` starts with ``[RULE-ID]``.

    ``level`` is ``"should"`` when only the rule's SHOULD is broken.
    """

    def __init__(self, rule: str, message: str, *, level: str = "must") -> None:
        self.rule = rule
        self.level = level
        super().__init__(f"[{rule}] {message}")


class ProviderRaised(RuleViolation):
    """A provider call raised a BaseException that is not an ``Exception``.

    The original is the ``__cause__``; the session goes on to the next test.
    """

    def __init__(self, rule: str, provider: str, what: str, exc: BaseException, steps: str | None = None) -> None:
        self.provider = provider
        self.what = what
        self.original = exc
        detail = f": {exc}" if str(exc) else ""
        after = f" after {steps}" if steps else ""
        super().__init__(rule, f"provider {provider!r} raised {type(exc).__name__}{detail} in {what}{after}")
        self.__cause__ = exc


class ProviderHung(RuleViolation):
    """A call into the provider did not return within the kit's timeout."""

    def __init__(self, rule: str, provider: str, what: str, timeout: float) -> None:
        self.provider = provider
        self.what = what
        self.timeout = timeout
        super().__init__(rule, f"provider {provider!r} still inside {what} after {timeout:g}s")


class NotClaimed(Exception):
    """The provider does not claim what the rule needs (outside pytest; the plugin skips instead).

    The message starts with :data:`~pytest_lifecycle.NOT_CLAIMED`.
    """
