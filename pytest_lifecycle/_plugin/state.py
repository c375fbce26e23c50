"""The plugin's per-session state, kept in ``config.stash``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import pytest

from pytest_lifecycle._core.discovery import select_providers
from pytest_lifecycle._core.provider import Provider
from pytest_lifecycle._plugin.profiles import LifecycleProfile

if TYPE_CHECKING:
    from pytest_lifecycle._plugin.waivers import Waiver

__all__ = ["CALL_FAILED", "STATE_KEY", "LifecycleState", "state_of"]


class LifecycleState:
    """Options as parsed, and the providers once resolved.

    Providers resolve lazily: a suite that collects no conformance test
    never imports a provider.
    """

    def __init__(
        self,
        config: pytest.Config,
        *,
        specs: list[str],
        timeout: float,
        profile: LifecycleProfile,
        rule_filter: list[str],
        strict: bool = False,
    ) -> None:
        self.config: Final = config
        self.specs: Final = specs
        self.timeout: Final = timeout
        self.profile: Final = profile
        self.rule_filter: Final = rule_filter
        #: A broken SHOULD fails the run.
        self.strict: Final = strict
        #: Known deviations (``--lifecycle-waivers``), set at configure.
        self.waivers: tuple[Waiver, ...] = ()
        #: What the ``pytest_lifecycle_providers`` hook offered (once resolved).
        self.offered: list[Provider] = []
        self._providers: list[Provider] | None = None

    def selects(self, rule: str | None) -> bool:
        """Whether ``--lifecycle-rule`` selects *rule* (a rule ID, or a contract prefix such as ``SSE``)."""
        if not self.rule_filter:
            return True
        if not rule:
            return False
        return any(rule == s or rule.startswith(s + "-") for s in self.rule_filter)

    def providers(self) -> list[Provider]:
        """The selected providers (see :mod:`pytest_lifecycle._core.discovery`)."""
        if self._providers is None:
            offered = [
                p for batch in self.config.hook.pytest_lifecycle_providers(config=self.config) if batch for p in batch
            ]
            self.offered = offered
            self._providers = select_providers(self.specs, offered)
        return self._providers


STATE_KEY: Final = pytest.StashKey[LifecycleState]()

#: On a test item: whether its call phase failed (set by the plugin's report
#: hook, read by the kit fixture's teardown).
CALL_FAILED: Final = pytest.StashKey[bool]()


def state_of(config: pytest.Config) -> LifecycleState:
    return config.stash[STATE_KEY]
