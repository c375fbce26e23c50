"""The plugin itself: discovery, selection, bad providers, claims, reports.

Each test writes a tiny provider module into a pytester directory and runs
pytest in-process against the shipped session-lifecycle suite (restricted to
one or two rules so it stays fast).
"""

from __future__ import annotations

import json
import textwrap

import pytest

from pytest_lifecycle import RULES
from pytest_lifecycle._core.discovery import ENTRY_POINT_GROUP
from pytest_lifecycle._core.kit import NOT_CLAIMED

GOOD = """
from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import factory

provider = Provider("good", session_lifecycle=factory, capabilities={"eviction"})
"""


def run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / "lifecycle.json"
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "--lifecycle-report", str(report), *args)
    verdicts = json.loads(report.read_text())["providers"] if report.exists() else {}
    return result, verdicts


def lc(*rules: str) -> list[str]:
    args = ["--pyargs", "conformance.session_lifecycle"]
    for r in rules:
        args += ["--lifecycle-rule", r]
    return args


# -- the catalogue -------------------------------------------------------------


def test_lifecycle_rules_prints_the_catalogue(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--lifecycle-rules")
    assert result.ret == 0
    out = result.stdout.str()
    for rule_id in RULES:
        assert rule_id in out
    result.stdout.fnmatch_lines(["session_lifecycle*§1a*eviction*", "  LC-15  optional:eviction*"])


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ('"LC-99"', ["*unknown rule id 'LC-99'*", "*LC-01 … LC-17*"]),
        ('"LC-05", level="may"', ["*LC-05: unknown level 'may'; levels: must, should*"]),
        ('"LC-01", level="should"', ["*LC-01 declares no SHOULD*"]),
    ],
    ids=["unknown-rule", "unknown-level", "no-should"],
)
def test_unknown_rule_marker_is_a_usage_error(pytester: pytest.Pytester, marker: str, expected: list[str]) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.rule({marker})
        def test_x(session_lifecycle):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(expected)


def test_rule_filter_rejects_unknown_ids(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(*lc("XX-01"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR


# -- selecting providers -------------------------------------------------------


def test_default_is_the_reference(pytester: pytest.Pytester) -> None:
    result, verdicts = run(pytester, *lc("LC-03"))
    result.assert_outcomes(passed=_tests_of("LC-03"))
    tests = verdicts["reference"]["LC-03"].pop("tests")
    assert verdicts == {
        "reference": {
            "LC-03": {
                "kind": "required",
                "message": None,
                "verdict": "passed",
                "text": "pytest_lifecycle/contract/session_lifecycle.md#lc-03",
            }
        }
    }
    assert len(tests) == _tests_of("LC-03")
    assert {(t["outcome"], t["level"]) for t in tests} == {("passed", "must")}
    assert all(t["replay"].startswith("pytest --pyargs conformance.session_lifecycle -k 'test_lc03") for t in tests)
    result.stdout.fnmatch_lines(["*lifecycle conformance: provider × rule*", "LC-03*required*passed*"])


def test_import_path_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(goodprov=GOOD)
    pytester.syspathinsert()
    result, verdicts = run(pytester, *lc("LC-03"), "--lifecycle-provider", "goodprov:provider")
    result.assert_outcomes(passed=_tests_of("LC-03"))
    assert verdicts["good"]["LC-03"]["verdict"] == "passed"


def test_repeated_option_certifies_each_provider_with_its_name_in_the_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(goodprov=GOOD)
    pytester.syspathinsert()
    result, verdicts = run(
        pytester, *lc("LC-03"), "--lifecycle-provider", "reference", "--lifecycle-provider", "goodprov:provider", "-v"
    )
    result.assert_outcomes(passed=2 * _tests_of("LC-03"))
    result.stdout.fnmatch_lines(["*test_lc03*[[]reference[]] PASSED*", "*test_lc03*[[]good[]] PASSED*"])
    assert set(verdicts) == {"reference", "good"}


def test_entry_point_selection(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(goodprov=GOOD)
    dist = pytester.mkdir("goodprov-1.0.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: goodprov\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\ngood = goodprov:provider\n")
    pytester.syspathinsert()
    result, verdicts = run(pytester, *lc("LC-03"), "--lifecycle-provider", "good")
    result.assert_outcomes(passed=_tests_of("LC-03"))
    assert "good" in verdicts


def test_broken_entry_point_is_a_usage_error_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(brokenprov="raise ImportError('missing native library')")
    dist = pytester.mkdir("brokenprov-1.0.dist-info")
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: brokenprov\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nbroken = brokenprov:provider\n")
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(*lc("LC-03"), "--lifecycle-provider", "broken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*provider 'broken'*entry point 'broken' (brokenprov:provider)*failed to load*missing native library*"]
    )


def test_unknown_name_is_a_usage_error_listing_providers(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(*lc("LC-03"), "--lifecycle-provider", "nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown lifecycle provider 'nosuch'*", "*available providers:*reference*"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module:provider", "*cannot import module 'no_such_module'*"),
        ("goodprov:nothing", "*module 'goodprov' has no attribute 'nothing'*"),
        ("goodprov:NOT_A_PROVIDER", "*resolved to int, expected a pytest_lifecycle.Provider*"),
        ("goodprov", "*unknown lifecycle provider 'goodprov'*"),
    ],
)
def test_bad_import_paths_are_usage_errors(pytester: pytest.Pytester, spec: str, message: str) -> None:
    pytester.makepyfile(goodprov=GOOD + "\nNOT_A_PROVIDER = 42\n")
    pytester.syspathinsert()
    result = pytester.runpytest_inprocess(*lc("LC-03"), "--lifecycle-provider", spec)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ini_option_selects_providers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(goodprov=GOOD)
    pytester.makeini("[pytest]\nlifecycle_providers =\n    goodprov:provider\n")
    pytester.syspathinsert()
    result, verdicts = run(pytester, *lc("LC-03"))
    result.assert_outcomes(passed=_tests_of("LC-03"))
    assert list(verdicts) == ["good"]


def test_hook_offers_providers(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(GOOD + "\n\ndef pytest_lifecycle_providers(config):\n    return [provider]\n")
    result, verdicts = run(pytester, *lc("LC-03"))
    result.assert_outcomes(passed=_tests_of("LC-03"))
    assert list(verdicts) == ["good"]
    # Offered providers are also selectable by name.
    result, verdicts = run(pytester, *lc("LC-03"), "--lifecycle-provider", "good", "--lifecycle-provider", "reference")
    assert set(verdicts) == {"good", "reference"}


def test_project_suite_with_star_import_and_fixture_override(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(GOOD + "\nimport pytest\n\n@pytest.fixture\ndef lifecycle_provider():\n    return provider\n")
    pytester.makepyfile(test_ours="from conformance.session_lifecycle import *\n")
    result, verdicts = run(pytester, "--lifecycle-rule", "LC-03", "--lifecycle-rule", "LC-04")
    result.assert_outcomes(passed=_tests_of("LC-03") + _tests_of("LC-04"))
    assert set(verdicts["good"]) == {"LC-03", "LC-04"}


def _tests_of(rule: str) -> int:
    """How many tests of the shipped suite cite *rule*."""
    import conformance.session_lifecycle as suite

    return sum(any(m.args[0] == rule for m in getattr(getattr(suite, n), "pytestmark", [])) for n in suite.__all__)


# -- bad providers -------------------------------------------------------------


BAD = """
from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle

class WrongType(SessionLifecycle):
    def mark_turn_completed(self, sid, *, agent=None):
        super().mark_turn_completed(sid, agent=agent)
        return "one"

class Missing:
    pass

class Hangs(SessionLifecycle):
    def mark_turn_completed(self, sid, *, agent=None):
        import threading
        threading.Event().wait()

class Interrupts(SessionLifecycle):
    def mark_turn_completed(self, sid, *, agent=None):
        raise KeyboardInterrupt("provider pressed ctrl-c")

def boom(ctx):
    raise RuntimeError("database unreachable")

wrong_type = Provider("wrong-type", session_lifecycle=lambda ctx: WrongType())
missing = Provider("missing", session_lifecycle=lambda ctx: Missing())
hangs = Provider("hangs", session_lifecycle=lambda ctx: Hangs())
raises = Provider("raises", session_lifecycle=boom)
interrupts = Provider("interrupts", session_lifecycle=lambda ctx: Interrupts())
returns_none = Provider("returns-none", session_lifecycle=lambda ctx: None)
locks_only = Provider("locks-only", keyed_locks=lambda ctx: object())
no_eviction = Provider("no-eviction", session_lifecycle=lambda ctx: SessionLifecycle())
"""


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        (
            "wrong_type",
            "*[[]LC-03[]] provider 'wrong-type' (session_lifecycle): lifecycle.mark_turn_completed('*') returned 'one' (str), expected int*",
        ),
        (
            "missing",
            "*[[]LC-03[]] provider 'missing', contract session_lifecycle: its lifecycle object (Missing) has no method *()*",
        ),
        ("hangs", "*[[]LC-03[]] provider 'hangs' still inside lifecycle.mark_turn_completed(*) after 0.5s*"),
        (
            "raises",
            "*[[]LC-03[]] provider 'raises', contract session_lifecycle: the session_lifecycle factory raised RuntimeError: database unreachable*",
        ),
        (
            "interrupts",
            "*[[]LC-03[]] provider 'interrupts' raised KeyboardInterrupt: provider pressed ctrl-c in lifecycle.mark_turn_completed(*) after *",
        ),
        (
            "returns_none",
            "*[[]LC-03[]] provider 'returns-none', contract session_lifecycle: the session_lifecycle factory returned None*",
        ),
    ],
)
def test_bad_provider_fails_naming_provider_contract_and_rule(
    pytester: pytest.Pytester, attr: str, message: str
) -> None:
    pytester.makepyfile(badprov=BAD)
    pytester.syspathinsert()
    result, verdicts = run(
        pytester, *lc("LC-03"), "--lifecycle-provider", f"badprov:{attr}", "--lifecycle-timeout", "0.5"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([message])
    (name,) = verdicts
    assert verdicts[name]["LC-03"]["verdict"] == "failed"
    assert verdicts[name]["LC-03"]["message"].startswith("[LC-03]")


def test_unclaimed_contract_is_reported_not_claimed_never_passed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(badprov=BAD)
    pytester.syspathinsert()
    result, verdicts = run(pytester, *lc("LC"), "--lifecycle-provider", "badprov:locks_only")
    outcomes = result.parseoutcomes()
    assert "passed" not in outcomes and "failed" not in outcomes
    assert {v["verdict"] for v in verdicts["locks-only"].values()} == {"not claimed"}
    assert len(verdicts["locks-only"]) == len([r for r in RULES if r.startswith("LC-")])
    result.stdout.fnmatch_lines(["LC-01*not claimed*", "provider 'locks-only': 17 not claimed"])


def test_unclaimed_capability_is_reported_not_claimed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(badprov=BAD)
    pytester.syspathinsert()
    result, verdicts = run(pytester, *lc("LC-15", "LC-03"), "--lifecycle-provider", "badprov:no_eviction", "-rs")
    assert verdicts["no-eviction"]["LC-15"]["verdict"] == "not claimed"
    assert verdicts["no-eviction"]["LC-03"]["verdict"] == "passed"
    result.stdout.fnmatch_lines(
        [f"*{NOT_CLAIMED}: provider 'no-eviction' does not claim capability 'eviction' (LC-15)*"]
    )


def test_provider_constructor_rejects_nonsense() -> None:
    from pytest_lifecycle import Provider, ProviderError

    with pytest.raises(ProviderError, match="claims no contract"):
        Provider("empty")
    with pytest.raises(ProviderError, match=r"unknown capability 'teleport'.*eviction \(session_lifecycle\)"):
        Provider("x", session_lifecycle=lambda ctx: None, capabilities={"teleport"})
    with pytest.raises(ProviderError, match="claims capability 'eviction' of contract session_lifecycle without"):
        Provider("x", keyed_locks=lambda ctx: None, capabilities={"eviction"})
    with pytest.raises(ProviderError, match="must be callable"):
        Provider("x", keyed_locks=42)


# -- staying out of the way ------------------------------------------------------


def test_unrelated_suite_is_untouched(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert 1 + 1 == 2\n")
    pytester.makeconftest(
        "import sys\n\ndef pytest_sessionfinish(session):\n"
        "    loaded = [m for m in ('reference_impl', 'conformance', 'hypothesis.stateful') if m in sys.modules]\n"
        "    print('LOADED', loaded)\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*LOADED []*"])
    assert "lifecycle conformance" not in result.stdout.str()


def test_unknown_profile_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(*lc("LC-03"), "--lifecycle-profile", "warp-speed")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown lifecycle profile 'warp-speed'*ci, quick, thorough*"])


def test_providers_listing(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        textwrap.dedent(BAD) + "\n\ndef pytest_lifecycle_providers(config):\n    return [no_eviction]\n"
    )
    result = pytester.runpytest_inprocess("--lifecycle-providers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*no-eviction*session_lifecycle*pytest_lifecycle_providers hook*", "*reference*eviction*"]
    )


def test_a_skipped_test_makes_its_rule_incomplete_never_passed(pytester: pytest.Pytester) -> None:
    # A provider offered by the hook has no import spec, so the crash tests of
    # CK-05 (which rebuild it in a child process) skip; the protocol test passes.
    pytester.makeconftest(
        "from pytest_lifecycle import Provider\n"
        "from reference_impl.checkpoint import factory\n\n"
        "def pytest_lifecycle_providers(config):\n"
        "    return [Provider('hooked', checkpoint_store=factory)]\n"
    )
    result, verdicts = run(pytester, "--pyargs", "conformance.checkpoint_store", "--lifecycle-rule", "CK-05", "-rs")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") and outcomes.get("skipped")
    assert verdicts["hooked"]["CK-05"]["verdict"] == "incomplete"
    result.stdout.fnmatch_lines(["CK-05*required*incomplete*", "*has no import spec*"])


@pytest.mark.parametrize(
    "workers", [pytest.param((), id="serial"), pytest.param(("-n", "2"), id="xdist", marks=pytest.mark.extended)]
)
def test_a_deselected_test_makes_its_rule_incomplete_never_passed(
    pytester: pytest.Pytester, workers: tuple[str, ...]
) -> None:
    # -k keeps one of LC-05's two tests and none of LC-01's; --lifecycle-rule's own selection does not count.
    keep = "test_lc05_late_commit_keeps_newer_turn"
    result, verdicts = run(pytester, *lc("LC-05", "LC-01"), "-k", keep, *workers)
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    lc05 = verdicts["reference"]["LC-05"]
    assert [(t["nodeid"].partition("[")[0], t["outcome"]) for t in lc05["tests"]] == [(f"::{keep}", "passed")]
    assert lc05["verdict"] == "incomplete", lc05
    assert lc05["message"].startswith("1 of its tests did not run (deselected by -k"), lc05["message"]
    assert "LC-01" not in verdicts["reference"], "a rule none of whose tests ran has no verdict"
    result.stdout.fnmatch_lines(["LC-05*required*incomplete*", "*rules not checked in full*", "reference LC-05: 1 of*"])
    _, whole = run(pytester, *lc("LC-05"), *workers)
    assert whole["reference"]["LC-05"]["verdict"] == "passed"


def test_verdict_folding() -> None:
    from pytest_lifecycle._plugin.report import fold

    assert fold(["passed", "failed"]) == "failed"
    assert fold(["passed", "skipped"]) == "incomplete"
    assert fold(["passed", "passed"]) == "passed"
    assert fold(["not claimed", "not claimed"]) == "not claimed"
    assert fold(["skipped"]) == "skipped"


def test_the_report_written_as_the_run_goes_is_the_whole_document(pytester: pytest.Pytester) -> None:
    # Rewritten at every test, with only the rules reported since re-encoded: each
    # file written during the run is a whole document naming the running test,
    # and the last one is the document results() gives.
    pytester.syspathinsert()
    pytester.makepyfile(
        seen="import pytest\n\n"
        "@pytest.hookimpl(trylast=True)\n"
        "def pytest_runtest_logstart(nodeid, location):\n"
        "    with open('seen.jsonl', 'a') as seen:\n"
        "        seen.write(open('report.json').read().replace(chr(10), ' ') + chr(10))\n"
    )
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(*lc("LC-03", "LC-06"), "--lifecycle-report", str(report), "-p", "seen")
    assert result.ret == 0, result.stdout.str()
    started = [r.nodeid for r in result.reprec.getreports("pytest_runtest_logreport") if r.when == "setup"]  # type: ignore[attr-defined]
    seen = [json.loads(line) for line in (pytester.path / "seen.jsonl").read_text().splitlines()]
    assert [doc["running"] for doc in seen] == started and len(started) >= 2
    assert not any(doc["complete"] for doc in seen)
    session = result.reprec.getcall("pytest_sessionfinish").session  # type: ignore[attr-defined]
    plugin = session.config.pluginmanager.get_plugin("lifecycle-report")
    assert json.loads(report.read_text()) == plugin.results(complete=True, exitstatus=0)
