"""Errors the kit raises about providers.

Every message names the provider, and where known the contract and the
rule, one fact per line; the exception keeps the objects, not just text.
"""

from __future__ import annotations

__all__ = ["ProviderError", "ProviderHung", "RuleViolation"]


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


class ProviderHung(RuleViolation):
    """A call into the provider did not return within the kit's timeout."""

    def __init__(self, rule: str, provider: str, what: str, timeout: float) -> None:
        self.provider = provider
        self.what = what
        self.timeout = timeout
        super().__init__(rule, f"provider {provider!r} still inside {what} after {timeout:g}s")
