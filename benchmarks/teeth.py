#!/usr/bin/env python
"""How sharp are the kit's teeth?  Recall on the mutants, precision on correct providers.

    python benchmarks/teeth.py --runs 20 [--contract keyed_locks] [--only NAME] [--workers 2] [--json out.json]

Every mutant (``tests/mutants``) and every correct provider (the reference
and the alternate readings in ``tests/alternates``) is certified R times,
each run with another ``--hypothesis-seed`` and no Hypothesis example
database.  Each run is two ``python -m pytest`` processes (all mutants in
one, all correct providers in the other, every provider selected with its
own ``--lifecycle-provider``), each in a fresh temporary directory, with
``-p teeth_plugin`` (``benchmarks/teeth_plugin.py``).  Mutants run only the
rules they must break; correct providers run every rule of their contract.

- A *kill* is the verdict the mutant declares (``failed`` for BREAKS,
  ``non-strict`` for NON_STRICT) with a message starting with ``[RULE]``, read
  from the ``--lifecycle-report`` JSON.  Its *time to kill* is the duration
  (setup + call + teardown) of the first test of that rule to fail for that
  mutant, in the order the pytest controller received them.
- A *false alarm* is a run in which a correct provider has any rule not
  ``passed`` (``not claimed`` is right for an optional capability it does not
  claim).

Exit code 0 when every (mutant, rule) is killed in every run and no correct
provider raised a false alarm, else 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pytest_lifecycle import CONTRACTS, rules_for  # noqa: E402
from tests.alternates import all_alternates  # noqa: E402
from tests.mutants import all_mutants  # noqa: E402

#: A run that hangs this long is a harness failure, not a measurement.
RUN_TIMEOUT = 1800  # safety-net


@dataclass(frozen=True)
class Subject:
    """A provider under measurement on one contract."""

    contract: str
    label: str  # how the tables name it
    spec: str  # package.module:attribute, for --lifecycle-provider
    name: str  # the Provider's name: the key of the lifecycle report
    #: rule → verdict the kit must report (for a correct provider: every rule of the contract).
    expected: dict[str, str]
    correct: bool


def _provider(spec: str) -> Any:
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


def correct_verdicts(contract: str, capabilities: set[str]) -> dict[str, str]:
    return {
        r.id: "passed" if r.capability is None or r.capability in capabilities else "not claimed"
        for r in rules_for(contract)
    }


def subjects(contracts: list[str], only: str | None) -> list[Subject]:
    """Every mutant and correct provider of *contracts* whose label or provider name contains *only*."""
    found = []
    for m in all_mutants():
        spec = f"{m.module}:provider"
        found.append(
            Subject(m.contract, f"{m.contract}/{m.name}", spec, _provider(spec).name, dict(m.expected()), False)
        )
    correct = [(c, f"{c}/reference", "reference_impl.provider:provider") for c in CONTRACTS]
    correct += [(a.contract, f"{a.contract}/{a.name}", f"{a.module}:provider") for a in all_alternates()]
    for contract, label, spec in correct:
        provider = _provider(spec)
        if contract in provider.factories:
            found.append(
                Subject(
                    contract, label, spec, provider.name, correct_verdicts(contract, set(provider.capabilities)), True
                )
            )
    return [s for s in found if s.contract in contracts and (only is None or only in s.label or only in s.name)]


def run_pytest(
    group: list[Subject], seed: int, workers: int, shrink: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One pytest run certifying every subject of *group*: (lifecycle report, teeth log lines)."""
    specs = {s.spec: s.name for s in group}  # the reference is one provider for all four contracts
    names = list(specs.values())
    assert len(set(names)) == len(names), f"two providers share a name: {names}"
    plan: dict[str, list[str]] = {}
    for s in group:
        plan[s.name] = sorted({*plan.get(s.name, []), *s.expected})
    contracts = sorted({s.contract for s in group})
    with tempfile.TemporaryDirectory(prefix="teeth-") as tmp:
        run_dir = Path(tmp)
        plan_file, log, report = run_dir / "plan.json", run_dir / "log.jsonl", run_dir / "report.json"
        plan_file.write_text(json.dumps(plan))
        command = [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            *(f"conformance.{c}" for c in contracts),
            *(arg for spec in specs for arg in ("--lifecycle-provider", spec)),
            "-p",
            "teeth_plugin",
            f"--hypothesis-profile={'teeth' if shrink else 'teeth-noshrink'}",
            f"--hypothesis-seed={seed}",
            "--teeth-plan",
            str(plan_file),
            "--teeth-log",
            str(log),
            "--lifecycle-report",
            str(report),
            "--basetemp",
            str(run_dir / "basetemp"),
            "-p",
            "no:cacheprovider",
            "-q",
            *(["-n", str(workers)] if workers else []),
        ]
        path = [str(ROOT), str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
        done = subprocess.run(command, cwd=run_dir, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        if done.returncode not in (0, 1) or not report.exists():
            raise SystemExit(
                f"pytest exited {done.returncode}: {' '.join(command)}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
            )
        # The profile has no database; make sure nothing was saved for a later run to replay.
        saved = run_dir / ".hypothesis" / "examples"
        if saved.exists() and any(saved.iterdir()):
            raise SystemExit(f"the Hypothesis example database was written to {saved}: runs would not be independent")
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        broken = [ln for ln in lines if "collect_error" in ln]
        if broken:
            raise SystemExit(f"collection error in {broken[0]['collect_error']}:\n{broken[0]['error']}")
        return json.loads(report.read_text()), [ln for ln in lines if "nodeid" in ln]


def time_to_kill(lines: list[dict[str, Any]], provider: str, rule: str, verdict: str) -> float | None:
    """Duration of the first test of *rule* that broke for *provider* the way *verdict* says."""
    mine = [ln for ln in lines if ln["provider"] == provider and ln["rule"] == rule]
    key, value = ("non_strict", True) if verdict == "non-strict" else ("outcome", "failed")
    first = next((ln["nodeid"] for ln in mine if ln[key] == value), None)
    return None if first is None else sum(ln["duration"] for ln in mine if ln["nodeid"] == first)


def measure(group: list[Subject], doc: dict[str, Any], lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per subject label: per rule, what the kit reported in this run."""
    out: dict[str, dict[str, Any]] = {}
    for s in group:
        reported = doc["providers"].get(s.name, {})
        out[s.label] = {}
        for rule, want in s.expected.items():
            got = reported.get(rule, {"verdict": "not run", "message": None})
            right = got["verdict"] == want and (s.correct or (got["message"] or "").startswith(f"[{rule}]"))
            ttk = None if s.correct or not right else time_to_kill(lines, s.name, rule, want)
            out[s.label][rule] = {"verdict": got["verdict"], "ok": right, "ttk": ttk, "message": got["message"]}
    return out


def summarize(chosen: list[Subject], results: dict[str, list[dict[str, Any]]], runs: int) -> dict[str, Any]:
    mutants: list[dict[str, Any]] = []
    correct: list[dict[str, Any]] = []
    for s in chosen:
        per_run = results[s.label]
        if not s.correct:
            for rule, want in s.expected.items():
                killed = [r[rule] for r in per_run if r[rule]["ok"]]
                ttks = [k["ttk"] for k in killed if k["ttk"] is not None]
                mutants.append(
                    {
                        "mutant": s.label,
                        "provider": s.name,
                        "rule": rule,
                        "expected": want,
                        "kills": len(killed),
                        "median_ttk": statistics.median(ttks) if ttks else None,
                        "missed": sorted(
                            {
                                r[rule]["verdict"] + (" citing another rule" if r[rule]["verdict"] == want else "")
                                for r in per_run
                                if not r[rule]["ok"]
                            }
                        ),
                    }
                )
        else:
            alarms = [{rule: v["verdict"] for rule, v in r.items() if not v["ok"]} for r in per_run]
            rules = sorted({f"{rule}:{verdict}" for a in alarms for rule, verdict in a.items()})
            messages = {rule: v["message"] for r in reversed(per_run) for rule, v in r.items() if not v["ok"]}
            correct.append(
                {
                    "provider": s.label,
                    "name": s.name,
                    "contract": s.contract,
                    "false_alarms": sum(1 for a in alarms if a),
                    "rules": rules,
                    "messages": messages,
                }
            )
    labels = {m["mutant"] for m in mutants}
    always = {label for label in labels if all(m["kills"] == runs for m in mutants if m["mutant"] == label)}
    totals = {
        "pairs": len(mutants),
        "pairs_killed_every_run": sum(1 for m in mutants if m["kills"] == runs),
        "mutants": len(labels),
        "mutants_killed_every_run": len(always),
        "correct_runs": runs * len(correct),
        "false_alarm_runs": sum(c["false_alarms"] for c in correct),
    }
    return {"runs": runs, "mutants": mutants, "correct": correct, "totals": totals}


def print_tables(summary: dict[str, Any]) -> None:
    runs = summary["runs"]
    if summary["mutants"]:
        width = max(len(m["mutant"]) for m in summary["mutants"]) + 2
        print(f"{'mutant':<{width}}{'rule':<7}{'expected':<12}{'kills':>7}  {'median ttk':>10}  missed as")
        for m in summary["mutants"]:
            ttk = "-" if m["median_ttk"] is None else f"{m['median_ttk']:.2f}s"
            print(
                f"{m['mutant']:<{width}}{m['rule']:<7}{m['expected']:<12}{m['kills']:>4}/{runs:<2}  {ttk:>10}  "
                + ", ".join(m["missed"])
            )
        print()
    if summary["correct"]:
        width = max(len("correct provider"), *(len(c["provider"]) for c in summary["correct"])) + 2
        print(f"{'correct provider':<{width}}{'false alarms':>12}  rules not passed")
        for c in summary["correct"]:
            print(f"{c['provider']:<{width}}{c['false_alarms']:>9}/{runs:<2}  " + ", ".join(c["rules"]))
        print()
    t = summary["totals"]
    print(
        f"mutants killed in {runs}/{runs} runs: {t['mutants_killed_every_run']}/{t['mutants']} "
        f"({t['pairs_killed_every_run']}/{t['pairs']} mutant×rule pairs); "
        f"false alarms: {t['false_alarm_runs']} of {t['correct_runs']} correct-provider runs; "
        f"wall time {summary['seconds']:.0f}s, cpu {summary['cpu_seconds']:.0f}s"
    )


def _children_cpu() -> float:
    """CPU seconds of every finished pytest run and its workers (wall time depends on who else is busy)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per provider (R), each with another seed")
    parser.add_argument("--contract", action="append", choices=list(CONTRACTS), help="only this contract (repeatable)")
    parser.add_argument("--only", metavar="NAME", help="only mutants/providers whose label or name contains NAME")
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers per run (0: serial)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first run; run i uses seed + i")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument(
        "--shrink",
        action="store_true",
        help="let Hypothesis shrink failures (default: time to the first failure, not shrunk)",
    )
    args = parser.parse_args(argv)
    chosen = subjects(args.contract or list(CONTRACTS), args.only)
    if not chosen:
        parser.error("nothing selected")
    results: dict[str, list[dict[str, Any]]] = {s.label: [] for s in chosen}
    start, cpu_start = time.monotonic(), _children_cpu()
    # Mutants and correct providers never share a process: a mutant's stuck thread cannot cause a false alarm.
    for group in filter(None, ([s for s in chosen if s.correct == correct] for correct in (False, True))):
        kind = "correct providers" if group[0].correct else "mutants"
        for run in range(args.runs):
            began, cpu_began = time.monotonic(), _children_cpu()
            doc, lines = run_pytest(group, args.seed + run, args.workers, args.shrink)
            for label, outcome in measure(group, doc, lines).items():
                results[label].append(outcome)
            print(
                f"{kind} ({len(group)}), run {run + 1}/{args.runs}, seed {args.seed + run}: "
                f"{time.monotonic() - began:.1f}s wall, {_children_cpu() - cpu_began:.1f}s cpu",
                file=sys.stderr,
                flush=True,
            )
    summary = summarize(chosen, results, args.runs)
    summary["seconds"], summary["cpu_seconds"] = time.monotonic() - start, _children_cpu() - cpu_start
    summary["seeds"] = [args.seed + run for run in range(args.runs)]
    print_tables(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    t = summary["totals"]
    return 0 if t["pairs_killed_every_run"] == t["pairs"] and t["false_alarm_runs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
