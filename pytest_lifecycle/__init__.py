"""pytest-lifecycle: a conformance kit for lifecycle, checkpoint, lock and stream contracts.

Register a provider, run ``pytest --pyargs conformance``, and read which rule
broke.  See the README for the full story.

This module is the public API: the names in :data:`__all__` are what a
provider, a suite or a project's own tests may rely on; the tools suites
drive providers with (probes of threads, files, memory and crashes, each
contract's helpers) are in :mod:`pytest_lifecycle.support`.  Every other
module is private (its name starts with an underscore) and may change in
any release.
"""

from pytest_lifecycle._core.catalogue import (
    CHOICES,
    CONTRACTS,
    RULES,
    Choice,
    Contract,
    Rule,
    UnknownRuleError,
    get_choice,
    get_rule,
    rules_for,
)
from pytest_lifecycle._core.context import Context, KitClock
from pytest_lifecycle._core.discovery import ENTRY_POINT_GROUP
from pytest_lifecycle._core.errors import NotClaimed, ProviderError, ProviderHung, RuleViolation
from pytest_lifecycle._core.gate import Gate
from pytest_lifecycle._core.kit import Kit
from pytest_lifecycle._core.provider import NOT_CLAIMED, Factory, Provider
from pytest_lifecycle._core.runner import Task
from pytest_lifecycle._core.surface import unwrap
from pytest_lifecycle._doubles import GatedAgent, GatedSources, InjectedFailure, SourceCall
from pytest_lifecycle._plugin.machines import run_machine
from pytest_lifecycle._version import __version__ as __version__

__all__ = [
    "CHOICES",
    "CONTRACTS",
    "ENTRY_POINT_GROUP",
    "NOT_CLAIMED",
    "RULES",
    "Choice",
    "Context",
    "Contract",
    "Factory",
    "Gate",
    "GatedAgent",
    "GatedSources",
    "InjectedFailure",
    "Kit",
    "KitClock",
    "NotClaimed",
    "Provider",
    "ProviderError",
    "ProviderHung",
    "Rule",
    "RuleViolation",
    "SourceCall",
    "Task",
    "UnknownRuleError",
    "get_choice",
    "get_rule",
    "rules_for",
    "run_machine",
    "unwrap",
]
