"""Running a conformance suite in-process with its JSON report (the shape most tests here need)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pytest


def run_suite(
    pytester: pytest.Pytester,
    target: str,
    *args: str,
    provider: str | None = None,
    rules: Iterable[str] = (),
) -> tuple[pytest.RunResult, dict[str, Any]]:
    """``pytest --pyargs conformance.<target>`` with a ``--lifecycle-report``; the result and the report ({} if none)."""
    report = pytester.path / "report.json"
    selection = [option for rule in rules for option in ("--lifecycle-rule", rule)]
    if provider is not None:
        selection += ["--lifecycle-provider", provider]
    result = pytester.runpytest_inprocess(
        "--pyargs", f"conformance.{target}", *selection, "--lifecycle-report", str(report), "-p", "no:cacheprovider",
        "-q", *args,
    )  # fmt: skip
    return result, json.loads(report.read_text()) if report.exists() else {}
