"""Waivers: a known deviation keeps the gate open, never passes, and cannot hide for ever.

A waived failure is reported ``waived`` (exit code 0, the trace kept); a
waiver whose rule passed is stale (a summary line; exit code 1 under
``--lifecycle-strict``); an expired waiver is not applied and fails the run;
a file that is unreadable, not TOML, not the shape, or names an unknown rule
or provider is a one-line usage error (exit code 4).  The failing provider
is the LC-01 mutant (one fast rule); serial and ``-n 2`` runs agree (marker
``extended``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle._plugin.waivers import Waiver, status
from tests._runs import run_suite

MUTANT = Path(__file__).resolve().parent / "mutants" / "session_lifecycle" / "lc01_empty_id_tracked.py"
NAME = "mutant-empty-id-tracked"
FUTURE, PAST = "2999-12-31", "2020-01-31"


def waiver(
    rule: str = "LC-01", provider: str = NAME, reason: str = "tracked in #123", expires: str | None = FUTURE
) -> str:
    until = f"expires = {expires}\n" if expires else ""
    return f'[[waiver]]\nrule = "{rule}"\nprovider = "{provider}"\nreason = "{reason}"\n{until}'


def run(
    pytester: pytest.Pytester, waivers: str | None, *args: str, provider: str = "mutant:provider", rule: str = "LC-01"
) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(mutant=MUTANT.read_text())
    pytester.syspathinsert()
    options: list[str] = []
    if waivers is not None:
        (pytester.path / "waivers.toml").write_text(waivers)
        options = ["--lifecycle-waivers", "waivers.toml"]
    return run_suite(pytester, "session_lifecycle", *options, *args, provider=provider, rules=[rule])


# -- waived ------------------------------------------------------------------------


def test_a_waived_failure_exits_0_and_reads_waived_never_passed(pytester: pytest.Pytester) -> None:
    result, doc = run(pytester, waiver())
    assert result.ret == 0, result.stdout.str()
    rule = doc["providers"][NAME]["LC-01"]
    assert rule["verdict"] == "waived"
    assert rule["message"].startswith("waived (tracked in #123): [LC-01]"), rule["message"]
    outcomes = {t["outcome"] for t in rule["tests"]}
    assert outcomes == {"waived", "passed"}, rule["tests"]  # the mutant breaks "" only, not None
    (witness,) = [t for t in rule["tests"] if t["outcome"] == "waived"]
    assert "[LC-01]" in witness["trace"], "the trace stays on a waived failure"
    result.assert_outcomes(passed=1, xfailed=1)
    result.stdout.fnmatch_lines(
        ["*waived failures (known deviations*", f"{NAME} LC-01: waived (tracked in #123): [[]LC-01[]]*"]
    )


@pytest.mark.extended  # opt-in: .ci/run
def test_serial_and_xdist_give_the_same_verdicts(pytester: pytest.Pytester) -> None:
    serial, serial_doc = run(pytester, waiver())
    xdist, xdist_doc = run(pytester, waiver(), "-n", "2")

    def summary(doc: dict[str, Any]) -> dict[str, Any]:
        return {
            p: {r: (v["verdict"], sorted((t["nodeid"], t["outcome"]) for t in v["tests"])) for r, v in rules.items()}
            for p, rules in doc["providers"].items()
        }

    assert summary(serial_doc)[NAME]["LC-01"][0] == "waived"
    assert summary(xdist_doc) == summary(serial_doc)
    assert xdist.ret == serial.ret == 0


def test_failures_in_setup_and_teardown_are_waived_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_phases='''
import pytest

@pytest.fixture
def broken_setup():
    raise RuntimeError("the database is down")

@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("cleanup failed")

@pytest.mark.rule("LC-02")
def test_lc02_setup(lifecycle_kit, broken_setup):
    """LC-02: errors in setup."""

@pytest.mark.rule("LC-03")
def test_lc03_teardown(lifecycle_kit, broken_teardown):
    """LC-03: errors in teardown."""
'''
    )
    (pytester.path / "waivers.toml").write_text(
        waiver("LC-02", "reference", "setup, #1") + "\n" + waiver("LC-03", "reference", "teardown, #2")
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "-p", "no:cacheprovider", "--lifecycle-waivers", "waivers.toml", "--lifecycle-report", str(report)
    )
    assert result.ret == 0, result.stdout.str()
    verdicts = json.loads(report.read_text())["providers"]["reference"]
    assert {r: v["verdict"] for r, v in verdicts.items()} == {"LC-02": "waived", "LC-03": "waived"}
    assert "the database is down" in verdicts["LC-02"]["tests"][0]["trace"]


def test_a_waiver_is_matched_by_provider(pytester: pytest.Pytester) -> None:
    result, doc = run(pytester, waiver(provider="reference"))
    assert doc["providers"][NAME]["LC-01"]["verdict"] == "failed"
    assert result.ret == 1


# -- stale ---------------------------------------------------------------------------


def test_a_stale_waiver_is_named_and_does_not_fail_the_run(pytester: pytest.Pytester) -> None:
    # -W error: a stale waiver is a summary line, not a Python warning.
    result, doc = run(
        pytester,
        waiver(provider="reference"),
        "-W",
        "error",
        # pytest's own note when an earlier in-process run imported the reference first
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        provider="reference",
    )
    assert doc["providers"]["reference"]["LC-01"]["verdict"] == "passed"
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(
        ["stale waiver: LC-01 passed for 'reference' (tracked in #123; waivers.toml, waiver 1): remove it*"]
    )


def test_a_stale_waiver_fails_the_run_under_strict(pytester: pytest.Pytester) -> None:
    result, _ = run(pytester, waiver(provider="reference"), "--lifecycle-strict", provider="reference")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["stale waiver: LC-01 passed for 'reference'*fails the run under --lifecycle-strict*"])


# -- expired -------------------------------------------------------------------------


def test_an_expired_waiver_is_not_applied_and_fails_the_run(pytester: pytest.Pytester) -> None:
    result, doc = run(pytester, waiver(expires=PAST))
    assert doc["providers"][NAME]["LC-01"]["verdict"] == "failed"
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [f"expired waiver: LC-01 for '{NAME}' expired on {PAST} (tracked in #123; waivers.toml, waiver 1)*"]
    )


def test_an_expired_waiver_fails_the_run_whatever_the_verdict(pytester: pytest.Pytester) -> None:
    result, doc = run(pytester, waiver(provider="reference", expires=f'"{PAST}"'), provider="reference")
    assert doc["providers"]["reference"]["LC-01"]["verdict"] == "passed"
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"expired waiver: LC-01 for 'reference' expired on {PAST}*"])


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            waiver(rule="LC-99"),
            "*waivers.toml: waiver 1: unknown rule id 'LC-99'; the catalogue * declares: LC-01 … LC-17",
        ),
        (
            waiver(provider="mine"),
            "*waiver 1: unknown provider 'mine'; available providers: *mutant-empty-id-tracked*reference*",
        ),
        ("[[waiver]\nrule = 1", "*waivers.toml: not valid TOML: *line 1*"),
        (waiver(expires='"2027-13-01"'), "*waiver 1: expires must be a date such as 2027-01-31*got '2027-13-01'"),
        (waiver(expires='"31/01/2027"'), "*waiver 1: expires must be a date*got '31/01/2027'"),
        (waiver(expires="2027-01-31T10:00:00"), "*waiver 1: expires must be a date*datetime*"),
        (waiver(expires="2027-02-30"), "*waivers.toml: not valid TOML: *"),
        (
            '[[waiver]]\nrule = "LC-01"\nprovider = "reference"\n',
            "*waiver 1: reason must be a non-empty string, got None",
        ),
        (
            waiver() + 'ticket = "#1"\n',
            "*waiver 1: unknown key 'ticket' (a waiver has rule, provider, reason, expires)",
        ),
        (waiver() + waiver(reason="again"), "*waiver 2: LC-01 for provider 'mutant-empty-id-tracked' is waived twice*"),
        ('[[waivers]]\nrule = "LC-01"\n', "*unknown top-level key 'waivers'*"),
        ('waiver = "LC-01"\n', "*'waiver' must be an array of tables*"),
    ],
    ids=[
        "unknown-rule",
        "unknown-provider",
        "not-toml",
        "bad-date",
        "not-iso",
        "datetime",
        "no-such-day",
        "no-reason",
        "unknown-key",
        "twice",
        "top-level",
        "not-tables",
    ],
)
def test_a_bad_waivers_file_is_a_one_line_usage_error(pytester: pytest.Pytester, text: str, expected: str) -> None:
    result, _ = run(pytester, text)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [ln for ln in result.stderr.lines if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr.str(), result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: --lifecycle-waivers {expected}"])


@pytest.mark.parametrize("where", ["missing", "directory"])
def test_an_unreadable_waivers_path_is_a_one_line_usage_error(pytester: pytest.Pytester, where: str) -> None:
    path = pytester.path / "nowhere.toml"
    if where == "directory":
        path.mkdir()
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lifecycle-waivers", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert len([ln for ln in result.stderr.lines if ln.strip()]) == 1, result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: --lifecycle-waivers {path}: cannot read {path}: *"])


def test_the_ini_path_is_relative_to_the_ini_file(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nlifecycle_waivers = ci/waivers.toml\n")
    (pytester.path / "ci").mkdir()
    (pytester.path / "ci" / "waivers.toml").write_text(waiver(provider="reference"))
    (pytester.path / "elsewhere").mkdir()
    monkeypatch.chdir(pytester.path / "elsewhere")
    result = pytester.runpytest_inprocess(
        "--pyargs", "conformance.session_lifecycle", "--lifecycle-rule", "LC-01", "-p", "no:cacheprovider"
    )
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.stdout.fnmatch_lines(
        ["stale waiver: LC-01 passed for 'reference' (tracked in #123; waivers.toml, waiver 1)*"]
    )


# -- the certificate's list -----------------------------------------------------------


def test_each_waiver_gets_its_status() -> None:
    def w(rule: str, expired: bool = False) -> Waiver:
        return Waiver(rule, "mine", "why", date(2999, 1, 1), expired=expired, where="w.toml, waiver 1")

    verdicts = {"mine": {"LC-01": "waived", "LC-02": "passed", "LC-03": "not claimed", "LC-04": "non-strict"}}
    got = {rule: status(w(rule), verdicts) for rule in ("LC-01", "LC-02", "LC-03", "LC-04", "LC-05")}
    assert got == {"LC-01": "applied", "LC-02": "stale", "LC-03": "unused", "LC-04": "unused", "LC-05": "unused"}
    assert status(w("LC-01", expired=True), verdicts) == "expired"


def test_document_lists_each_waiver_with_its_status(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        "import json\nfrom pytest_lifecycle._plugin.waivers import document\n\n"
        "def pytest_sessionfinish(session):\n"
        "    verdicts = session.config.pluginmanager.get_plugin('lifecycle-report').verdicts()\n"
        "    print('DOCUMENT', json.dumps(document(session.config, verdicts)))\n"
    )
    text = waiver() + waiver(rule="LC-02", expires=PAST) + waiver(rule="LC-02", provider="reference", expires=None)
    result, _ = run(pytester, text, "-s")
    line = next(ln for ln in result.stdout.lines if "DOCUMENT " in ln)  # after the progress dots
    assert json.loads(line.split("DOCUMENT ", 1)[1]) == [
        {"rule": "LC-01", "provider": NAME, "reason": "tracked in #123", "expires": FUTURE, "status": "applied"},
        {"rule": "LC-02", "provider": NAME, "reason": "tracked in #123", "expires": PAST, "status": "expired"},
        {"rule": "LC-02", "provider": "reference", "reason": "tracked in #123", "expires": None, "status": "unused"},
    ]
