"""``pytest-lifecycle``: certify a provider without remembering pytest flags.

    pytest-lifecycle --version             print the kit's version
    pytest-lifecycle rules [ID ...]        print the rule catalogue, or the full
                                           text of rules (LC-05) or contracts (LC)
    pytest-lifecycle providers             list the available providers
    pytest-lifecycle certify [NAME ...] [-- PYTEST-ARGS]
                                           run the conformance suites against NAME
                                           (default: the reference) and print the
                                           provider x rule table

Everything is a thin layer over ``pytest --pyargs conformance``.  ``certify``
runs it in a child process (its own process group) and exits 0 only when
that run completed and every selected rule got its verdict: a provider that
exits the process, segfaults or kills its process group fails the rule that
was running (exit code 1), named on stderr.  Otherwise the exit code is
pytest's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from typing import Any, Sequence

import pytest

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # Output piped into `head` that closed early: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 4
    if args[0] in ("-V", "--version"):
        from . import __version__

        print(f"pytest-lifecycle {__version__}")
        return 0
    command, rest = args[0], args[1:]
    if command == "rules":
        return _rules(rest) if rest and not rest[0].startswith("-") else int(pytest.main(["--lifecycle-rules", *rest]))
    if command == "providers":
        return int(pytest.main(["--lifecycle-providers", *rest]))
    if command == "certify":
        names, extra = (rest[: rest.index("--")], rest[rest.index("--") + 1 :]) if "--" in rest else (rest, [])
        selection = [arg for name in names for arg in ("--lifecycle-provider", name)]
        return _certify(["--pyargs", "conformance", "-p", "no:cacheprovider", *selection, *extra])
    print(f"pytest-lifecycle: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 4


def _certify(args: list[str]) -> int:
    report = next((args[i + 1] for i, a in enumerate(args[:-1]) if a == "--lifecycle-report"), None)
    with tempfile.TemporaryDirectory(prefix="pytest-lifecycle-") as scratch:
        if report is None:
            report = os.path.join(scratch, "verdicts.json")
            args = [*args, "--lifecycle-report", report]
        # A new session: a provider that kills its process group kills the
        # run, not this gate.
        child = subprocess.run([sys.executable, "-m", "pytest", *args], start_new_session=True, check=False)
        doc = _read_report(report)
    code = child.returncode
    if doc is not None and doc.get("complete") and not doc.get("not_run") and code >= 0:
        return code
    how = f"signal {-code}" if code < 0 else f"exit code {code}"
    running = (doc or {}).get("running")
    who = _rule_of_nodeid(running) if running else "the run before any test started"
    missing = ", ".join((doc or {}).get("not_run", [])) or "unknown"
    print(f"pytest-lifecycle certify: {who} ended the process ({how}); rules without a verdict: {missing}",
          file=sys.stderr)
    return 1


def _read_report(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        return doc if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None


def _rule_of_nodeid(nodeid: str) -> str:
    # Conformance tests are named after their rule: test_lc16_… → LC-16.
    match = re.search(r"test_([a-z]+)(\d\d)_[^\[]*(?:\[(.*)\])?", nodeid)
    if match is None:
        return f"the test {nodeid}"
    provider = f"provider {match[3]!r}" if match[3] else "the provider"
    return f"{provider} (during {match[1].upper()}-{match[2]}, in {nodeid})"


def _rules(selectors: list[str]) -> int:
    from .catalogue import RULES, UnknownRuleError
    from .report import print_rule

    chosen: list[str] = []
    for selector in selectors:
        matched = [r for r in RULES if r == selector.upper() or r.startswith(selector.upper() + "-")]
        if not matched:
            print(f"pytest-lifecycle rules: {UnknownRuleError(selector)}", file=sys.stderr)
            return 4
        chosen += matched
    for n, rule_id in enumerate(chosen):
        if n:
            print("\n" + "-" * 72)
        print_rule(rule_id)
    return 0
