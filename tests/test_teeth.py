"""Smoke test of ``benchmarks/teeth.py``, the kit's recall/precision benchmark.

The benchmark itself is run by hand (``python benchmarks/teeth.py --runs 20``);
here one run of one fast mutant goes through the whole machinery (plan,
plugin, report, time to kill), and the scoring is checked on made-up runs.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from .mutants import all_mutants

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "teeth.py"


@pytest.fixture(scope="module")
def teeth():
    spec = importlib.util.spec_from_file_location("teeth", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["teeth"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("teeth", None)


def test_one_run_of_one_mutant_is_a_timed_kill(teeth, tmp_path: Path) -> None:
    # Any respawn mutant that breaks RS-05 alone (their module names may change).
    mutant = next(m for m in all_mutants() if m.contract == "respawn" and m.expected() == [("RS-05", "failed")])
    label = f"respawn/{mutant.name}"
    out = tmp_path / "teeth.json"
    code = teeth.main(["--contract", "respawn", "--only", label, "--runs", "1", "--workers", "0", "--json", str(out)])
    summary = json.loads(out.read_text())
    (row,) = summary["mutants"]
    assert (row["mutant"], row["rule"], row["expected"], row["kills"]) == (label, "RS-05", "failed", 1)
    assert row["median_ttk"] is not None and row["median_ttk"] > 0
    assert summary["correct"] == [] and summary["seeds"] == [0]
    assert code == 0


def test_scoring_needs_the_rule_id_and_counts_false_alarms(teeth) -> None:
    mutant = teeth.Subject("respawn", "respawn/m", "m:provider", "mutant-m", {"RS-05": "failed"}, False)
    correct = teeth.Subject(
        "respawn", "respawn/ok", "ok:provider", "alt-ok", {"RS-05": "passed", "RS-06": "passed"}, True
    )
    doc = {
        "providers": {
            "mutant-m": {"RS-05": {"verdict": "failed", "message": "[RS-06] wrong rule"}},
            "alt-ok": {
                "RS-05": {"verdict": "passed", "message": None},
                "RS-06": {"verdict": "non-strict", "message": "[RS-06] x"},
            },
        }
    }
    lines = [
        {
            "nodeid": "t[mutant-m]",
            "when": "call",
            "outcome": "failed",
            "duration": 0.5,
            "rule": "RS-05",
            "provider": "mutant-m",
            "non_strict": False,
        }
    ]
    measured = teeth.measure([mutant, correct], doc, lines)
    assert not measured["respawn/m"]["RS-05"]["ok"], "a failure citing another rule is no kill"
    summary = teeth.summarize([mutant, correct], {k: [v] for k, v in measured.items()}, 1)
    assert summary["totals"]["pairs_killed_every_run"] == 0
    assert summary["correct"][0]["rules"] == ["RS-06:non-strict"] and summary["totals"]["false_alarm_runs"] == 1


def test_time_to_kill_is_the_first_broken_test(teeth) -> None:
    def line(nodeid: str, when: str, outcome: str, duration: float, non_strict: bool = False) -> dict[str, object]:
        return {
            "nodeid": nodeid,
            "when": when,
            "outcome": outcome,
            "duration": duration,
            "rule": "LK-01",
            "provider": "p",
            "non_strict": non_strict,
        }

    lines = [
        line("a", "call", "passed", 9.0),
        line("b", "setup", "passed", 0.25),
        line("b", "call", "failed", 1.0),
        line("b", "teardown", "passed", 0.25),
        line("c", "call", "failed", 0.1),
    ]
    assert teeth.time_to_kill(lines, "p", "LK-01", "failed") == 1.5
    assert teeth.time_to_kill(lines, "p", "LK-01", "non-strict") is None
    assert teeth.time_to_kill([*lines, line("d", "call", "skipped", 2.0, True)], "p", "LK-01", "non-strict") == 2.0
