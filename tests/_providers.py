"""Finding the provider modules of a catalogue (``tests/mutants``, ``tests/alternates``)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

from pytest_lifecycle import CONTRACTS


def provider_modules(catalogue: str) -> Iterator[tuple[str, ModuleType]]:
    """``(contract, module)`` for every public module under ``<catalogue>.<contract>``."""
    for contract in CONTRACTS:
        try:
            package = importlib.import_module(f"{catalogue}.{contract}")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            if not info.name.startswith("_"):
                yield contract, importlib.import_module(f"{package.__name__}.{info.name}")
