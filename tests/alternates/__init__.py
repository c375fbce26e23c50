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

from collections.abc import Mapping
from dataclasses import dataclass, field

from .._providers import provider_modules


@dataclass(frozen=True)
class Alternate:
    contract: str
    name: str
    module: str
    choices: Mapping[str, str] = field(default_factory=dict)
    doc: str = ""


def all_alternates() -> list[Alternate]:
    """Every alternate-reading provider under ``tests/alternates/<contract>/``."""
    return [
        Alternate(
            contract,
            module.__name__.rsplit(".", 1)[1],
            module.__name__,
            dict(getattr(module, "CHOICES", {})),
            (module.__doc__ or "").strip(),
        )
        for contract, module in provider_modules(__name__)
    ]
