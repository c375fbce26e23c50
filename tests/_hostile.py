"""Providers that go wrong in one way each, and a run of a contract's suite against one of them.

The hostile-provider matrix (``tests/test_hostile.py``) runs each contract's
suite against the faulty providers and judges every (fault, rule) verdict of
the JSON report.  The faults share runs (:func:`run_group`): one process per
contract for the hang, which waits out a short timeout, and one for the
other faults together.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_lifecycle import rules_for

#: A hostile run that has not ended after this long is a harness failure.
RUN_TIMEOUT = 300  # safety-net

#: The fault kinds, and what the verdict message must name as the cause.
CAUSES = {
    "keyboard-interrupt": "raised KeyboardInterrupt",
    "system-exit": "raised SystemExit",
    "generator-exit": "raised GeneratorExit",
    "base-exception": "raised BaseException",
    "value-error": "ValueError",
    "hang": "hung|still inside",
    "wrong-type": "returned 'nonsense'|'str' object|str",
}
CONTRACTS = ("keyed_locks", "session_lifecycle", "respawn", "checkpoint_store")

#: The (contract, fault) cases of the default run: every fault on some
#: contract, every contract with two faults besides the hang.  The other cases
#: run under the marker ``extended`` (``.ci/run``).
DEFAULT_CASES = {
    "keyed_locks": ("keyboard-interrupt", "wrong-type", "hang"),
    "session_lifecycle": ("system-exit", "value-error", "hang"),
    "respawn": ("generator-exit", "keyboard-interrupt", "hang"),
    "checkpoint_store": ("base-exception", "wrong-type", "hang"),
}

#: ``target`` is the method each fault is placed on, per contract: the ones most rules call.
HOSTILE = """
import os
import threading

from pytest_lifecycle import Provider
from reference_impl.checkpoint import factory as checkpoints
from reference_impl.keyed_locks import factory as locks
from reference_impl.respawn import factory as respawns
from reference_impl.session_lifecycle import factory as lifecycle

FAULTS = {
    "keyboard-interrupt": lambda: (_ for _ in ()).throw(KeyboardInterrupt("provider pressed ctrl-c")),
    "system-exit": lambda: (_ for _ in ()).throw(SystemExit(3)),
    "generator-exit": lambda: (_ for _ in ()).throw(GeneratorExit()),
    "base-exception": lambda: (_ for _ in ()).throw(BaseException("odd")),
    "value-error": lambda: (_ for _ in ()).throw(ValueError("bad")),
    "hang": lambda: threading.Event().wait(),
    "wrong-type": lambda: "nonsense",
}
TARGETS = {
    "keyed_locks": ("lock_for", "rotate"),
    "session_lifecycle": ("mark_turn_completed", "commit_session_memory"),
    "respawn": ("respawn", "install"),
    "checkpoint_store": ("create", "load"),
}


def faulty(factory, contract, fault):
    def build(ctx):
        inner = factory(ctx)

        class Faulty:
            def __getattr__(self, name):
                if name in TARGETS[contract]:
                    return lambda *a, **k: FAULTS[fault]()
                return getattr(inner, name)

            def __len__(self):
                return len(inner)

        return Faulty()
    return build


providers = {
    (contract, fault): Provider(f"{contract}-{fault}", **{contract: faulty(f, contract, fault)})
    for contract, f in (("keyed_locks", locks), ("session_lifecycle", lifecycle), ("respawn", respawns),
                        ("checkpoint_store", checkpoints))
    for fault in FAULTS
}
# One attribute per provider, so each can be selected as hostile:<attribute>.
globals().update({f"{c}__{f}".replace("-", "_"): p for (c, f), p in providers.items()})
"""


def provider_name(contract: str, fault: str) -> str:
    return f"{contract}-{fault}"


#: A plugin (``-p noshrink``) loading a Hypothesis profile without the shrink phase.
NO_SHRINK_PLUGIN = """
from hypothesis import Phase, settings

settings.register_profile("noshrink", phases=[Phase.explicit, Phase.reuse, Phase.generate])
settings.load_profile("noshrink")
"""


def hostile_module(pytester: pytest.Pytester, contract: str, fault: str) -> str:
    """Write the faulty providers into the pytester directory; the spec selecting one."""
    pytester.makepyfile(hostile=HOSTILE)
    pytester.syspathinsert()
    return f"hostile:{contract}__{fault}".replace("-", "_")


def group_of(fault: str) -> str:
    """The run a fault shares: the hang alone (it waits out its timeout), the other faults together."""
    return "hang" if fault == "hang" else "faults"


def names_cause(fault: str, message: str) -> bool:
    return any(cause in message for cause in CAUSES[fault].split("|"))


@dataclass
class HostileRun:
    """One provider's part of a run of a contract's suite against the providers of one fault group."""

    contract: str
    fault: str
    ret: int | pytest.ExitCode
    stdout: str
    outcomes: dict[str, int]
    report: dict[str, Any]
    elapsed: float
    #: This provider's setup or teardown reports that failed (pytest's ERROR lines).
    errors: list[str]
    #: The providers of the run.
    providers: list[str]

    @property
    def provider(self) -> str:
        return provider_name(self.contract, self.fault)


def run_group(pytester: pytest.Pytester, contract: str, faults: list[str], timeout: float) -> dict[str, HostileRun]:
    """``pytest --pyargs conformance.<contract>`` against the providers of *faults* (of one group); fault → its run."""
    report = pytester.path / "report.json"
    selection = [arg for fault in faults for arg in ("--lifecycle-provider", hostile_module(pytester, contract, fault))]
    pytester.makepyfile(noshrink=NO_SHRINK_PLUGIN)
    started = time.monotonic()
    # A process of its own: a hostile provider may leave threads behind that an
    # in-process run would hand on to the next tests of the xdist worker.
    result = pytester.runpytest_subprocess(
        "--pyargs", f"conformance.{contract}", *selection,
        "--lifecycle-timeout", f"{timeout:g}", "--lifecycle-report", str(report),
        # The verdicts are read from the report, whose messages are the same under
        # any --tb; pytest's long tracebacks (an AST parse of the suite module per
        # frame) would cost most of the run.
        "--tb=native",
        # Nor is the smallest example: a state machine that fails late need not shrink.
        "-p", "noshrink", "--lifecycle-profile", "quick",
        "-rE",  # setup/teardown errors listed one per line: a hang or raise must count once
        "-p", "no:cacheprovider", "-q",
        timeout=RUN_TIMEOUT,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    doc = json.loads(report.read_text()) if report.exists() else {}
    stdout, outcomes = result.stdout.str(), result.parseoutcomes()
    errors = [line for line in result.stdout.lines if line.startswith("ERROR ")]
    providers = [provider_name(contract, fault) for fault in faults]
    return {
        fault: HostileRun(
            contract=contract,
            fault=fault,
            ret=result.ret,
            stdout=stdout,
            outcomes=outcomes,
            report=doc,
            elapsed=elapsed,
            errors=[line for line in errors if f"[{provider}]" in line],
            providers=providers,
        )
        for fault, provider in zip(faults, providers, strict=True)
    }


def judge(run: HostileRun) -> tuple[list[str], list[str], list[str]]:
    """What is wrong with the run's verdicts; the claimed rules; the rules that survived the fault.

    A rule survives a fault when it failed with its own rule ID first and the
    message names the fault as the cause.
    """
    fault, name = run.fault, run.provider
    verdicts = run.report.get("providers", {}).get(name)
    if verdicts is None:
        return [f"{name}: no verdicts in the report"], [], []
    problems: list[str] = []
    rules = {r.id for r in rules_for(run.contract)}
    if set(verdicts) != rules:
        problems.append(f"{name}: verdicts for {sorted(verdicts)}, the contract has {sorted(rules)}")
    claimed = sorted(rule for rule, v in verdicts.items() if v["verdict"] != "not claimed")
    passed = sorted(rule for rule, v in verdicts.items() if v["verdict"] == "passed" and v["kind"] != "stress")
    if passed and fault != "value-error":
        problems.append(f"{name}: passed {passed}")
    failed = {rule: v["message"] for rule, v in verdicts.items() if v["verdict"] == "failed"}
    problems += [
        f"{name}: {rule} message does not start with its rule ID: {m!r}"
        for rule, m in failed.items()
        if not m.startswith(f"[{rule}]")
    ]
    if not any(names_cause(fault, m) for m in failed.values()):
        problems.append(f"{name}: no failure names the cause ({CAUSES[fault]}): {failed}")
    if fault != "value-error":
        # The cause is named before any invariant it could have broken.
        problems += [
            f"{name}: {rule} does not name the cause: {m!r}" for rule, m in failed.items() if not names_cause(fault, m)
        ]
    if run.errors:
        problems.append(f"{name}: counted as ERROR too (a hang or a raise is counted once): {run.errors}")
    survived = sorted(rule for rule, m in failed.items() if m.startswith(f"[{rule}]") and names_cause(fault, m))
    return problems, claimed, survived
