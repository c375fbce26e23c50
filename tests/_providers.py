"""Finding the provider modules of a catalogue (``tests/mutants``, ``tests/alternates``)."""

from __future__ import annotations

import importlib
import pkgutil
import traceback
from collections.abc import Iterator
from types import ModuleType

from pytest_lifecycle import CONTRACTS


def provider_modules(catalogue: str, broken: list[str] | None = None) -> Iterator[tuple[str, ModuleType]]:
    """``(contract, module)`` for every public module under ``<catalogue>.<contract>``.

    With *broken*, a module that does not import is appended there (name and
    error) instead of raising: one broken module does not hide the others.
    """
    for contract in CONTRACTS:
        try:
            package = importlib.import_module(f"{catalogue}.{contract}")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            name = f"{package.__name__}.{info.name}"
            try:
                module = importlib.import_module(name)
            except Exception:
                if broken is None:
                    raise
                broken.append(f"{name}: {traceback.format_exc(limit=-1).strip()}")
                continue
            yield contract, module
