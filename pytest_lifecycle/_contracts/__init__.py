"""Per-contract support: the surface the kit drives and the fixtures.

Each module here holds one contract's :data:`SUPPORT` (its surfaces and what
its factories receive in the context) and its public fixtures.  The plugin
loads them as pytest plugins, so their fixtures are available in any test,
and gives every kit :func:`supports` (the kit, one layer down, does not
import this package).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Final

from pytest_lifecycle._core.catalogue import CONTRACTS
from pytest_lifecycle._core.kit import ContractSupport
from pytest_lifecycle._core.surface import Surface

__all__ = ["FIXTURE_MODULES", "ContractSupport", "contract_support", "supports", "surface_named"]

#: The plugin modules that define the contracts' fixtures.  pytest imports
#: them (``pytest_plugins``), which rewrites their asserts: this package
#: imports them by name when first asked for a contract, never before.
FIXTURE_MODULES: Final = tuple(f"{__name__}.{name}" for name in CONTRACTS)


@cache
def supports() -> Mapping[str, ContractSupport]:
    """Contract name → its :class:`ContractSupport`, in catalogue order (what the plugin gives every kit)."""
    found = {}
    for contract, module in zip(CONTRACTS, FIXTURE_MODULES):
        support = importlib.import_module(module).SUPPORT
        assert isinstance(support, ContractSupport)
        found[contract] = support
    return MappingProxyType(found)


def contract_support(contract: str) -> ContractSupport:
    """The :class:`ContractSupport` of *contract*: its surfaces and what its factories' contexts carry."""
    return supports()[contract]


def surface_named(name: str) -> Surface:
    """Any contract's surface, by name."""
    for support in supports().values():
        for surface in (support.surface, *support.nested):
            if surface.name == name:
                return surface
    raise KeyError(f"no contract declares a surface named {name!r}")
