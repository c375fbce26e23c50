"""The kit passes correct code that reads the contract differently (precision).

Every alternate-reading provider (``tests/alternates/``) is certified on its
contract, serial and under ``pytest -n 2``: every rule must be *passed* --
not failed, not non-strict -- and the report must show the open choices the
provider declares it makes.  Together with the reference they take every
branch of every open choice of the contracts they cover.

A contract's alternates are certified together: one in-process run per
contract and mode, with every selected alternate of the contract as its own
``--lifecycle-provider`` (a :class:`~tests._runs.Plan`).  The first test of
a contract and mode starts its run, the others read its report
(``tests/conftest.py`` schedules them on one xdist worker).  The
``-n 2`` mode is opt-in (marker ``extended``, run by ``.ci/run``) and runs
at the ``ci`` sizes users run; the serial mode at the ``quick`` sizes (every
test, shorter state machines: the open choices show in the example tests).
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from pytest_lifecycle import CHOICES, RULES, rules_for
from reference_impl.provider import CHOICES as REFERENCE_CHOICES
from tests._runs import Plan, run_suite

from .alternates import Alternate, all_alternates

ALTERNATES = all_alternates()
assert ALTERNATES, "no alternate-reading providers found: the kit's precision would be untested"
#: Each mode's options: workers and lifecycle profile (see above).
MODES = {"serial": ("--lifecycle-profile", "quick"), "xdist": ("-n", "2", "--lifecycle-profile", "ci")}


def provider_name(alt: Alternate) -> str:
    name: str = importlib.import_module(alt.module).provider.name
    return name


class Certifications:
    """One run per contract and mode certifying its selected alternates, started by the first test of the two."""

    def __init__(self, session: pytest.Session) -> None:
        self.session = session
        self.runs: dict[tuple[str, str], tuple[pytest.RunResult, dict[str, Any], Plan]] = {}

    def of(self, pytester: pytest.Pytester, contract: str, mode: str) -> tuple[pytest.RunResult, dict[str, Any], Plan]:
        if (contract, mode) not in self.runs:
            self.runs[contract, mode] = self._run(pytester, contract, mode)
        return self.runs[contract, mode]

    def _run(
        self, pytester: pytest.Pytester, contract: str, mode: str
    ) -> tuple[pytest.RunResult, dict[str, Any], Plan]:
        chosen: dict[str, Alternate] = {}
        for item in self.session.items:
            params = getattr(getattr(item, "callspec", None), "params", {})
            alt = params.get("alt")
            if isinstance(alt, Alternate) and alt.contract == contract and params.get("mode") == mode:
                chosen[alt.module] = alt
        plan = Plan({provider_name(a): {r.id for r in rules_for(contract)} for a in chosen.values()})
        specs = [f"{a.module}:provider" for a in chosen.values()]
        result, doc = run_suite(pytester, contract, *MODES[mode], provider=specs, plan=plan)
        assert doc, result.stdout.str()[-4000:]
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()[-4000:]
        return result, doc, plan


@pytest.fixture(scope="session")
def certifications(request: pytest.FixtureRequest) -> Certifications:
    return Certifications(request.session)


@pytest.mark.parametrize("mode", ["serial", pytest.param("xdist", marks=pytest.mark.extended)])
@pytest.mark.parametrize("alt", [pytest.param(a, id=f"{a.contract}/{a.name}") for a in ALTERNATES])
def test_alternate_reading_passes_every_rule(
    pytester: pytest.Pytester, certifications: Certifications, alt: Alternate, mode: str
) -> None:
    result, doc, plan = certifications.of(pytester, alt.contract, mode)
    name = provider_name(alt)
    verdicts = {rule: v["verdict"] for rule, v in doc["providers"].get(name, {}).items()}
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
    # Alone, it would pass the run: none of its tests failed.
    assert not plan.failed(name), plan.failed(name)
    seen = doc["choices"].get(name, {})
    for choice, branch in alt.choices.items():
        assert seen.get(choice) == [branch], f"{alt.module} declares {choice}={branch}; the kit saw {seen.get(choice)}"


def test_alternates_declare_known_choices() -> None:
    for alt in ALTERNATES:
        assert alt.doc, f"{alt.module} has no docstring saying what it reads differently"
        for choice, branch in alt.choices.items():
            assert choice in CHOICES and branch in CHOICES[choice].branches, f"{alt.module}: {choice}={branch}"
            assert CHOICES[choice].contract == alt.contract, f"{alt.module}: {choice} is not a {alt.contract} choice"


def test_alternates_have_distinct_provider_names() -> None:
    names = [provider_name(a) for a in ALTERNATES]
    assert len(set(names)) == len(names), (
        f"alternates sharing a provider name (one run cannot tell them apart): {names}"
    )


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
