"""pytest-lifecycle: a conformance kit for lifecycle, checkpoint, lock and stream contracts.

Register a provider, run ``pytest --pyargs conformance``, and read which rule
broke.  See the README for the full story.
"""

#: The kit's version (the one source: ``pyproject.toml`` reads it from here).
__version__ = "0.2.0"

from .catalogue import (
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
from .context import Context, KitClock
from .discovery import ENTRY_POINT_GROUP
from .doubles import Gate, GatedAgent, GatedSources, InjectedFailure, SourceCall
from .errors import ProviderError, ProviderHung, RuleViolation
from .kit import NOT_CLAIMED, Kit
from .machines import run_machine
from .provider import Factory, Provider
from .runner import Task
from .surface import unwrap

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
