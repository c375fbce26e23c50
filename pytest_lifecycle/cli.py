"""``pytest-lifecycle``: certify a provider without remembering pytest flags.

    pytest-lifecycle rules [ID ...]        print the rule catalogue, or the full
                                           text of rules (LC-05) or contracts (LC)
    pytest-lifecycle providers             list the available providers
    pytest-lifecycle certify [NAME ...] [-- PYTEST-ARGS]
                                           run the conformance suites against NAME
                                           (default: the reference) and print the
                                           provider x rule table

Everything is a thin layer over ``pytest --pyargs conformance``; the exit
code is pytest's.
"""

from __future__ import annotations

import sys
from typing import Sequence

import pytest

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 4
    command, rest = args[0], args[1:]
    if command == "rules":
        return _rules(rest) if rest and not rest[0].startswith("-") else int(pytest.main(["--lifecycle-rules", *rest]))
    if command == "providers":
        return int(pytest.main(["--lifecycle-providers", *rest]))
    if command == "certify":
        names, extra = (rest[: rest.index("--")], rest[rest.index("--") + 1 :]) if "--" in rest else (rest, [])
        selection = [arg for name in names for arg in ("--lifecycle-provider", name)]
        return int(pytest.main(["--pyargs", "conformance", "-p", "no:cacheprovider", *selection, *extra]))
    print(f"pytest-lifecycle: unknown command {command!r}\n{__doc__}", file=sys.stderr)
    return 4


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
