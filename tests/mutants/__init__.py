"""The mutant catalogue: deliberately broken providers that prove the kit has teeth.

Each module in a contract's sub-package reproduces one real bug (its
docstring names the seed it comes from) and declares:

- ``provider``: a :class:`pytest_lifecycle.Provider` named ``mutant-...``;
- ``BREAKS``: the rule IDs the kit must fail it on (a broken MUST);
- optionally ``NON_STRICT``: rule IDs whose SHOULD it breaks while keeping
  every MUST -- the kit must report them *non-strict*, not failed;
- optionally ``UNOBSERVABLE``: rule IDs the kit cannot check against it
  because its bug removes what their tests observe -- reported *skipped* or
  *incomplete* (never passed), with the reason in the docstring.

``tests/test_mutants.py`` runs the conformance suite against every mutant
and asserts that each rule in ``BREAKS`` is reported *failed* (each in
``NON_STRICT`` *non-strict*) with a message that starts with that rule's ID.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .._providers import provider_modules


@dataclass(frozen=True)
class Mutant:
    contract: str
    name: str
    module: str
    breaks: tuple[str, ...]
    doc: str
    non_strict: tuple[str, ...] = ()
    #: The name of its Provider: the key of the lifecycle report.
    provider: str = ""
    #: Rules whose tests its bug leaves nothing to observe: skipped or incomplete.
    unobservable: tuple[str, ...] = ()

    def expected(self) -> list[tuple[str, str]]:
        """(rule, verdict) pairs the kit must report for this mutant."""
        return [(r, "failed") for r in self.breaks] + [(r, "non-strict") for r in self.non_strict]

    @property
    def named_rule(self) -> str | None:
        """The rule of its name (``lc05_...`` -> ``LC-05``): the one its bug is about."""
        found = re.match(r"([a-z]+)(\d+)_", self.name)
        return f"{found[1].upper()}-{found[2]}" if found else None


def witnesses(mutants: list[Mutant]) -> set[tuple[str, str, str]]:
    """The (mutant module, rule, verdict) kills that prove every rule and every SHOULD can fail.

    One kill per declared (rule, verdict): on the first mutant (by module)
    named after the rule, else on the first that declares it.
    """
    chosen: dict[tuple[str, str], str] = {}
    ordered = sorted(mutants, key=lambda m: m.module)
    for named_first in (True, False):
        for m in ordered:
            for r, v in m.expected():
                if (r == m.named_rule or not named_first) and (r, v) not in chosen:
                    chosen[(r, v)] = m.module
    return {(module, r, v) for (r, v), module in chosen.items()}


#: Mutant modules that failed to import (module: error), for ``test_every_mutant_imports``.
BROKEN: list[str] = []


def all_mutants() -> list[Mutant]:
    """Every mutant module under ``tests/mutants/<contract>/`` that imports (the others go to :data:`BROKEN`)."""
    BROKEN.clear()
    return [
        Mutant(
            contract,
            module.__name__.rsplit(".", 1)[1],
            module.__name__,
            tuple(getattr(module, "BREAKS", ())),
            (module.__doc__ or "").strip(),
            tuple(getattr(module, "NON_STRICT", ())),
            module.provider.name,
            tuple(getattr(module, "UNOBSERVABLE", ())),
        )
        for contract, module in provider_modules(__name__, BROKEN)
    ]
