"""The kit fails every mutant on the rule it breaks, and only there.

A contract's mutants are certified together: one in-process run of
``pytest --pyargs conformance.<contract>`` with every selected mutant as its
own ``--lifecycle-provider`` and a :class:`~tests._runs.Plan` that keeps, per
mutant, only the tests its selected checks need.  The run happens once per
contract and worker (the first test of the contract starts it;
``tests/conftest.py`` schedules a contract's tests of this module on one
xdist worker), and each test reads its verdicts from the JSON report.  The
run uses the kit's ``ci`` sizes without Hypothesis's shrink phase
(:data:`~tests._runs.NO_SHRINK`): a kill needs the verdict and the rule the
message cites, not the smallest example (``tests/test_hypothesis.py`` checks
what shrinking prints); and a shorter timeout (:data:`MUTANT_TIMEOUT`), as a
deadlocked mutant waits it out in every test of its rule.

``test_kit_fails_mutant_on_its_rule[<contract>/<mutant>/<rule>]`` (the
*kill*): every test of the rule runs; for a rule in ``BREAKS`` the verdict
is *failed*, for one in ``NON_STRICT`` *non-strict*; the message starts with
``[RULE-ID]``; a failed rule has a failed test (alone it would fail the
run), a non-strict one none (a broken SHOULD alone does not fail the run).
The default run checks the kills that prove every rule and every SHOULD can
fail (:func:`~tests.mutants.witnesses`: one kill per rule and verdict, on
the first mutant named after the rule, else the first declaring it); every
other kill the mutants declare is checked under the marker ``extended``,
which ``.ci/run`` runs.

``test_mutant_passes_what_it_does_not_break[<contract>/<mutant>]`` (the
*clean* check, opt-in: marker ``mutant_matrix``, deselected by default; run
it with ``pytest tests/test_mutants.py -m mutant_matrix [-k <contract>]``,
``-m ''`` for both checks; it costs minutes of CPU and ``.ci/run`` does
not run it yet): on every rule of its
contract that it does not declare, the mutant must be *passed* (*not
claimed* for an optional capability it does not claim), so a mutant that
breaks more than its bug is noticed.  The tests that may legitimately catch
*any* bug of the contract are left out of this check: the model-conformance
state machines (``test_*_model_conformance``, which compare every step with
the contract's model) and the tests of ``stress`` rules (which hammer
everything at once) -- for undeclared rules they are not run, so a rule
checked only by them (LC-17, LK-08, LK-09, ST-13) is not part of the clean
check, and one with example tests too reads *incomplete* (every test that
ran passed, the others were deselected).  What remains are example tests,
whose verdicts depend neither on a Hypothesis seed nor on load: the check
is deterministic under Hypothesis's ``ci`` profile and not flaky under load.  A failure lists each undeclared
rule with its verdict, the failed tests and the message: declare the rule in
``BREAKS``/``NON_STRICT``, or narrow the mutant to its bug.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import RULES, rules_for
from tests._runs import NO_SHRINK, Plan, run_suite
from tests.conftest import FIRST_FAILURE_TESTS, MODULE_BATCHES, batch_of

from .mutants import BROKEN, Mutant, all_mutants, witnesses

MUTANTS = all_mutants()
#: ``--lifecycle-timeout`` of the batches (the kit's default is 5 s).
MUTANT_TIMEOUT = 2
assert MUTANTS, "no mutants found: the catalogue would prove nothing"


WITNESSES = witnesses(MUTANTS)
KILLS = [
    pytest.param(
        m, rule, verdict, id=f"{m.contract}/{m.name}/{rule}",
        marks=() if (m.module, rule, verdict) in WITNESSES else pytest.mark.extended,
    )
    for m in MUTANTS
    for rule, verdict in m.expected()
]  # fmt: skip
CLEAN = [pytest.param(m, id=f"{m.contract}/{m.name}", marks=pytest.mark.mutant_matrix) for m in MUTANTS]


@dataclass
class Batch:
    """One contract's run: its result, its JSON report and what each (provider, rule) test did."""

    result: pytest.RunResult
    doc: dict[str, Any]
    plan: Plan

    def verdict(self, mutant: Mutant, rule: str) -> dict[str, Any]:
        got: dict[str, Any] = self.doc["providers"].get(mutant.provider, {}).get(rule)
        return got or {"verdict": "not run", "message": None}

    def output(self) -> str:
        return self.result.stdout.str()[-4000:]


class Batches:
    """The runs of this worker, one per contract, planned from every selected test of the contract."""

    def __init__(self, session: pytest.Session) -> None:
        self.session = session
        self.runs: dict[str, Batch] = {}

    def of(self, pytester: pytest.Pytester, contract: str) -> Batch:
        if contract not in self.runs:
            self.runs[contract] = self._run(pytester, contract)
        return self.runs[contract]

    def _plan(self, contract: str) -> Plan:
        """The rules every selected test of *contract* reads: its own for a kill, all for a clean check."""
        declared: dict[str, set[str]] = {}
        clean: set[str] = set()
        for item in self.session.items:
            params = getattr(getattr(item, "callspec", None), "params", {})
            mutant = params.get("mutant")
            if not isinstance(mutant, Mutant) or mutant.contract != contract:
                continue
            rules = declared.setdefault(mutant.provider, set())
            if "rule" in params:
                rules.add(params["rule"])
            else:
                clean.add(mutant.provider)
                rules.update(dict(mutant.expected()))
        contract_rules = {r.id for r in rules_for(contract)}
        return Plan(
            {p: None if p in clean else rules for p, rules in declared.items()},
            {p: contract_rules - declared[p] for p in clean},
        )

    def _run(self, pytester: pytest.Pytester, contract: str) -> Batch:
        plan = self._plan(contract)
        specs = [f"{m.module}:provider" for m in MUTANTS if m.provider in plan.rules]
        result, doc = run_suite(
            pytester, contract, "--lifecycle-profile", NO_SHRINK, "--tb=native",
            # A mutant that deadlocks costs one timeout per test; calls of the others take milliseconds.
            "--lifecycle-timeout", str(MUTANT_TIMEOUT),
            provider=specs, plan=plan,
        )  # fmt: skip
        assert doc, f"the {contract} batch wrote no report:\n{result.stdout.str()[-4000:]}"
        assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()[-4000:]
        return Batch(result, doc, plan)


@pytest.fixture(scope="session")
def batches(request: pytest.FixtureRequest) -> Batches:
    return Batches(request.session)


@pytest.mark.parametrize(("mutant", "rule", "expected"), KILLS)
def test_kit_fails_mutant_on_its_rule(
    pytester: pytest.Pytester, batches: Batches, mutant: Mutant, rule: str, expected: str
) -> None:
    assert rule in RULES, f"{mutant.module}: BREAKS names unknown rule {rule}"
    assert RULES[rule].contract == mutant.contract, f"{mutant.module}: {rule} is not a {mutant.contract} rule"
    batch = batches.of(pytester, mutant.contract)
    verdict = batch.verdict(mutant, rule)
    assert verdict["verdict"] == expected, f"{mutant.module} on {rule}: {verdict}:\n{batch.output()}"
    assert (verdict["message"] or "").startswith(f"[{rule}]"), verdict["message"]
    # A broken SHOULD alone does not fail the run; a broken MUST does.
    failed = batch.plan.failed(mutant.provider, rule)
    assert bool(failed) == (expected == "failed"), f"{mutant.module} on {rule} ({expected}): failed tests {failed}"


@pytest.mark.parametrize("mutant", CLEAN)
def test_mutant_passes_what_it_does_not_break(pytester: pytest.Pytester, batches: Batches, mutant: Mutant) -> None:
    batch = batches.of(pytester, mutant.contract)
    claims = importlib.import_module(mutant.module).provider.capabilities
    declared = dict(mutant.expected())
    wrong: list[str] = []
    for rule in rules_for(mutant.contract):
        if rule.id in declared:
            continue
        key = (mutant.provider, rule.id)
        if key not in batch.plan.selected:
            # Only whole-contract tests check this rule: not part of the clean check.
            assert key in batch.plan.dropped_whole, f"{rule.id} has no test for {mutant.provider}"
            continue
        if rule.id in mutant.unobservable:
            wanted: tuple[str, ...] = ("skipped", "incomplete")
        else:
            wanted = ("passed",) if rule.capability is None or rule.capability in claims else ("not claimed",)
        got = batch.verdict(mutant, rule.id)
        ran = [t["outcome"] for t in got.get("tests", [])]
        if key in batch.plan.dropped_whole and wanted == ("passed",) and set(ran) == {"passed"}:
            # Its whole-contract tests were deselected: the kit rightly reads it incomplete.
            wanted = ("incomplete",)
        if got["verdict"] not in wanted:
            failed = batch.plan.failed(mutant.provider, rule.id)
            tests = f" in {', '.join(failed)}" if failed else ""
            expected = " or ".join(wanted)
            wrong.append(f"{rule.id}: {got['verdict']} (expected {expected}){tests} -- {(got['message'] or '')[:300]}")
    assert not wrong, f"{mutant.module} breaks rules it does not declare in BREAKS/NON_STRICT:\n  " + "\n  ".join(wrong)


def test_every_rule_has_a_mutant() -> None:
    # Counted on the kills of the default run: every rule can fail in every run.
    covered = {rule for _, rule, verdict in WITNESSES if verdict == "failed"}
    should_covered = {rule for _, rule, verdict in WITNESSES if verdict == "non-strict"}
    no_should_mutant = [
        r
        for r, rule in RULES.items()
        if rule.should and rule.contract in {m.contract for m in MUTANTS} and r not in should_covered
    ]
    assert not no_should_mutant, f"SHOULDs no mutant breaks (untested): {no_should_mutant}"
    contracts = {m.contract for m in MUTANTS}
    missing = [r for r, rule in RULES.items() if rule.contract in contracts and r not in covered]
    assert not missing, f"rules no mutant can break (not tested yet): {missing}"


def test_every_mutant_imports() -> None:
    assert not BROKEN, "mutant modules that do not import:\n" + "\n".join(BROKEN)


def test_every_mutant_cites_its_bug() -> None:
    for m in MUTANTS:
        assert m.doc, f"{m.module} has no docstring naming the bug it reproduces"
        assert m.breaks or m.non_strict, f"{m.module} declares neither BREAKS nor NON_STRICT"
        assert m.named_rule in dict(m.expected()), f"{m.module} is not named <rule>_<bug> after a rule it breaks"
        assert not set(m.unobservable) & set(m.breaks + m.non_strict), (
            f"{m.module}: a rule both broken and unobservable"
        )


def test_mutants_have_distinct_provider_names() -> None:
    names = [m.provider for m in MUTANTS]
    twice = sorted({n for n in names if names.count(n) > 1})
    assert not twice, f"mutants sharing a provider name (one batch cannot tell them apart): {twice}"


def test_tests_sharing_a_run_are_scheduled_together() -> None:
    """Under xdist a batch's tests go to one worker (else each worker would run the batch again)."""
    for param in KILLS + CLEAN:
        (mutant, *_) = param.values
        for function in ("test_kit_fails_mutant_on_its_rule", "test_mutant_passes_what_it_does_not_break"):
            nodeid = f"tests/test_mutants.py::{function}[{param.id}]"
            assert batch_of(nodeid) == f"tests/test_mutants.py::{mutant.contract}", nodeid
    alternate = "tests/test_alternates.py::test_alternate_reading_passes_every_rule[respawn/x-{}]"
    assert [batch_of(alternate.format(mode)) for mode in ("serial", "xdist")] == [
        "tests/test_alternates.py::respawn-serial",
        "tests/test_alternates.py::respawn-xdist",
    ]
    hypothesis_tests = (Path(__file__).parent / "test_hypothesis.py").read_text()
    for name in FIRST_FAILURE_TESTS:
        assert f"def {name}(" in hypothesis_tests, f"{name} is no longer in test_hypothesis.py"
    assert batch_of("tests/test_plugin.py::test_x[session_lifecycle/a]") is None
    hostile = "tests/test_hostile.py::test_every_claimed_rule_gets_an_honest_verdict[keyed_locks-{}]"
    assert {batch_of(hostile.format(fault)) for fault in ("value-error", "keyboard-interrupt")} == {
        "tests/test_hostile.py::keyed_locks-faults"
    }
    assert batch_of(hostile.format("hang")) == "tests/test_hostile.py::keyed_locks-hang"
    for module in MODULE_BATCHES:
        source = (Path(__file__).parent / module).read_text()
        assert '@pytest.fixture(scope="module")' in source, f"{module} no longer shares a module-scoped run"
        assert batch_of(f"tests/{module}::test_x[a-b]") == batch_of(f"tests/{module}::test_y") == f"tests/{module}"
