"""The kit passes correct code that reads the contract differently (precision).

Every alternate-reading provider (``tests/alternates/``) is certified on its
contract, serial and under ``pytest -n 2``: every rule must be *passed* --
not failed, not non-strict -- and the report must show the open choices the
provider declares it makes.  Together with the reference they take every
branch of every open choice of the contracts they cover.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from pytest_lifecycle import CHOICES, RULES, rules_for
from reference_impl.provider import CHOICES as REFERENCE_CHOICES
from tests._runs import run_suite

from .alternates import all_alternates

ALTERNATES = all_alternates()
#: Where ``tests`` is importable from.
ROOT = Path(__file__).resolve().parent.parent
assert ALTERNATES, "no alternate-reading providers found: the kit's precision would be untested"


def certify(pytester: pytest.Pytester, contract: str, spec: str, *extra: str) -> tuple[pytest.RunResult, dict]:
    # xdist workers start in pytester's directory with the sys.path the session
    # started with: this conftest lets them import ``tests.alternates...``.
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n")
    result, doc = run_suite(pytester, contract, *extra, provider=spec)
    assert doc, result.stdout.str()
    return result, doc


@pytest.mark.parametrize("workers", [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist")])
@pytest.mark.parametrize("alt", [pytest.param(a, id=f"{a.contract}/{a.name}") for a in ALTERNATES])
def test_alternate_reading_passes_every_rule(pytester: pytest.Pytester, alt, workers: tuple[str, ...]) -> None:
    result, doc = certify(pytester, alt.contract, f"{alt.module}:provider", *workers)
    (name,) = doc["providers"]
    verdicts = {rule: v["verdict"] for rule, v in doc["providers"][name].items()}
    claims = importlib.import_module(alt.module).provider.capabilities
    expected = {
        r.id: "passed" if r.capability is None or r.capability in claims else "not claimed"
        for r in rules_for(alt.contract)
    }
    assert verdicts == expected, (
        "\n".join(f"{r}: {v} — {doc['providers'][name][r]['message']}" for r, v in verdicts.items() if v != "passed")
        + "\n"
        + result.stdout.str()[-3000:]
    )
    assert result.ret == pytest.ExitCode.OK
    seen = doc["choices"][name]
    for choice, branch in alt.choices.items():
        assert seen.get(choice) == [branch], f"{alt.module} declares {choice}={branch}; the kit saw {seen.get(choice)}"


def test_alternates_declare_known_choices() -> None:
    for alt in ALTERNATES:
        assert alt.doc, f"{alt.module} has no docstring saying what it reads differently"
        for choice, branch in alt.choices.items():
            assert choice in CHOICES and branch in CHOICES[choice].branches, f"{alt.module}: {choice}={branch}"
            assert CHOICES[choice].contract == alt.contract, f"{alt.module}: {choice} is not a {alt.contract} choice"


@pytest.mark.parametrize("choice", list(CHOICES))
def test_every_branch_of_every_choice_is_taken_by_a_correct_provider(choice: str) -> None:
    taken = {alt.choices[choice] for alt in ALTERNATES if choice in alt.choices}
    taken.add(REFERENCE_CHOICES[choice])
    assert taken == set(CHOICES[choice].branches), (
        f"no correct provider takes {sorted(set(CHOICES[choice].branches) - taken)} of {choice}: "
        "the kit's acceptance of that branch is untested"
    )


def test_each_choice_names_its_rules() -> None:
    for choice in CHOICES.values():
        assert choice.rules and all(RULES[r].contract == choice.contract for r in choice.rules), choice.id
