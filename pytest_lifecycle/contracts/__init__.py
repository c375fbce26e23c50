"""Per-contract support: the surface the kit drives and the fixtures.

Each module here holds one contract's :data:`SUPPORT` (its surfaces and what
its factories receive in the context) and its public fixtures.  The plugin
loads them as pytest plugins, so their fixtures are available in any test.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from ..catalogue import CONTRACTS
from ..surface import Surface

if TYPE_CHECKING:
    from ..kit import Kit

__all__ = ["FIXTURE_MODULES", "ContractSupport", "contract_support", "surface_named"]

#: The plugin modules that define the contracts' fixtures.
FIXTURE_MODULES: Final = tuple(f"{__name__}.{name}" for name in CONTRACTS)


def _no_extras(kit: Kit) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class ContractSupport:
    """How the kit builds and drives one contract."""

    #: The object a factory returns.
    surface: Surface
    #: Surfaces of objects it hands out (sessions, locks, …).
    nested: tuple[Surface, ...] = ()
    #: Extras every context of this contract carries (``kit -> {name: value}``).
    context_extras: Callable[[Kit], dict[str, Any]] = field(default=_no_extras)


@cache
def contract_support(contract: str) -> ContractSupport:
    """The :class:`ContractSupport` of *contract*."""
    support = importlib.import_module(f"{__name__}.{contract}").SUPPORT
    assert isinstance(support, ContractSupport)
    return support


@cache
def surface_named(name: str) -> Surface:
    """Any contract's surface, by name."""
    for contract in CONTRACTS:
        support = contract_support(contract)
        for surface in (support.surface, *support.nested):
            if surface.name == name:
                return surface
    raise KeyError(f"no contract declares a surface named {name!r}")
