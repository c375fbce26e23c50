"""Alternate-reading providers: the kit's precision, as mutants are its recall.

Each module under ``tests/alternates/<contract>/`` is a *correct*
implementation written from the contract text (not a subclass of
``reference_impl``) that reads the contract differently from the reference:
between them they take the other branch of every open choice.  A module
declares:

- ``provider``: a :class:`pytest_lifecycle.Provider` named ``alt-...``;
- ``CHOICES``: open choice id → the branch it takes (the report must show
  exactly that branch for each);
- a docstring saying what it reads differently.

``tests/test_alternates.py`` certifies each one and expects every claimed
rule *passed*, MUSTs and SHOULDs alike, serial and under ``pytest -n 2``.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Mapping

from pytest_lifecycle import CONTRACTS


@dataclass(frozen=True)
class Alternate:
    contract: str
    name: str
    module: str
    choices: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""


def all_alternates() -> list[Alternate]:
    """Every alternate-reading provider under ``tests/alternates/<contract>/``."""
    found = []
    for contract in CONTRACTS:
        try:
            package: ModuleType = importlib.import_module(f"{__name__}.{contract}")
        except ModuleNotFoundError:
            continue
        for info in pkgutil.iter_modules(package.__path__):
            if info.name.startswith("_"):
                continue
            module = importlib.import_module(f"{package.__name__}.{info.name}")
            found.append(
                Alternate(contract, info.name, module.__name__, dict(getattr(module, "CHOICES", {})),
                          (module.__doc__ or "").strip())
            )
    return found
