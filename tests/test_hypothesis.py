"""Reproducible machines: shrunk steps, the seed, the example database, profiles.

Runs the LC-17 state machine against the mutant only the machine can catch,
in a subprocess (Hypothesis fixes its storage directory once per process).
One first failing run (:func:`first_failure`) is shared: its output is
checked, its seed replayed in a fresh directory, its example database copied
and replayed (``tests/conftest.py`` keeps the tests that read it on one
xdist worker).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from pytest_lifecycle._plugin.profiles import PROFILES, get_profile
from tests._runs import NO_SHRINK, Plan, run_suite

from .mutants import Mutant, all_mutants


def _mutant(rule: str) -> Mutant:
    """A session_lifecycle mutant that breaks *rule* alone (module names may change)."""
    return next(m for m in all_mutants() if m.contract == "session_lifecycle" and m.breaks[:1] == (rule,))


MUTANT = f"{_mutant('LC-17').module}:provider"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _child_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Subprocess runs import the mutants as ``tests.mutants...``.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    # Hypothesis loads its derandomized, database-less "ci" profile when it
    # sees CI in the environment; these tests are about the default profile.
    for name in ("CI", "TF_BUILD", "GITHUB_ACTIONS", "BUILDKITE", "CIRCLECI", "GITLAB_CI", "JENKINS_URL"):
        monkeypatch.delenv(name, raising=False)


def run_lc17(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "--pyargs",
        "conformance.session_lifecycle",
        "--lifecycle-rule",
        "LC-17",
        "--lifecycle-provider",
        MUTANT,
        "-p",
        "no:cacheprovider",
        *args,
    )


def falsifying_steps(result: pytest.RunResult) -> list[str]:
    out = result.stdout.lines
    start = next(i for i, line in enumerate(out) if "state = " in line)
    return [line for line in out[start:] if line.strip().startswith(("state", "E   state"))]


_FIRST: list[tuple[pytest.RunResult, Path]] = []


@pytest.fixture
def first_failure(pytester: pytest.Pytester) -> tuple[pytest.RunResult, Path]:
    """The first LC-17 failure of this worker (default profile, no seed given) and the directory it ran in."""
    if not _FIRST:
        _FIRST.append((run_lc17(pytester), pytester.path))
    return _FIRST[0]


def test_failure_prints_shrunk_steps_and_replay_command(first_failure: tuple[pytest.RunResult, Path]) -> None:
    result, _ = first_failure
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "*[[]LC-17[]]*",
            "*state = *",
            f"*LC-17 replay with: pytest --pyargs conformance.session_lifecycle -k 'test_lc17_model_conformance'"
            f" --lifecycle-provider {MUTANT} --hypothesis-seed=*",
            "*(the failing example is also saved in the Hypothesis example database and replayed first)*",
        ]
    )


def test_under_hypothesis_ci_profile_the_note_says_derandomized(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    # The note is what is checked, not the shrinking (the tests above check it):
    # Hypothesis's CI profile, loaded at import when CI is set, without its shrink phase.
    pytester.makeconftest(
        """
        from hypothesis import Phase, settings

        settings.register_profile("ci-no-shrink", settings.default, phases=[Phase.explicit, Phase.reuse, Phase.generate])
        settings.load_profile("ci-no-shrink")
        """
    )
    result = run_lc17(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*state = *", "*LC-17 replay with: pytest --pyargs conformance.session_lifecycle*"])
    if _hypothesis_ci_profile_derandomizes():
        assert "(derandomized run: the same command replays it)" in result.stdout.str()
        assert "--hypothesis-seed=" not in result.stdout.str()
    else:  # older Hypothesis: no automatic CI profile
        assert "--hypothesis-seed=" in result.stdout.str()


def _hypothesis_ci_profile_derandomizes() -> bool:
    from hypothesis import settings

    try:
        return bool(settings.get_profile("ci").derandomize)
    except Exception:
        return False


def test_hypothesis_seed_replays_the_same_failure(
    pytester: pytest.Pytester, first_failure: tuple[pytest.RunResult, Path]
) -> None:
    """The seed the first run printed, given back in a directory with no example database, finds the same steps."""
    first, _ = first_failure
    seed = re.search(r"--hypothesis-seed=(\S+)", first.stdout.str())
    assert seed, first.stdout.str()
    assert not (pytester.path / ".hypothesis" / "examples").exists()
    again = run_lc17(pytester, f"--hypothesis-seed={seed[1]}", "-q")
    assert again.ret == pytest.ExitCode.TESTS_FAILED
    assert falsifying_steps(again) == falsifying_steps(first)
    assert f"--hypothesis-seed={seed[1]}" in again.stdout.str()


def test_example_database_replays_the_failure(
    pytester: pytest.Pytester, first_failure: tuple[pytest.RunResult, Path]
) -> None:
    first, where = first_failure
    examples = where / ".hypothesis" / "examples"
    assert examples.is_dir() and any(examples.rglob("*")), "the failing example was not saved"
    # A new seed (none given): only the saved example can make it find the same steps.
    shutil.copytree(examples, pytester.path / ".hypothesis" / "examples")
    second = run_lc17(pytester)
    assert second.ret == pytest.ExitCode.TESTS_FAILED
    assert falsifying_steps(second) == falsifying_steps(first)


def test_user_profile_is_not_clobbered(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from hypothesis import settings

        settings.register_profile("mine", max_examples=7, derandomize=True)
        settings.load_profile("mine")

        def pytest_sessionfinish(session):
            print("DEFAULT max_examples", settings.default.max_examples)
        """
    )
    result = pytester.runpytest_subprocess(
        "--pyargs", "conformance.session_lifecycle", "--lifecycle-rule", "LC-17", "--lifecycle-profile", "quick",
        "-s", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*DEFAULT max_examples 7*"])


def test_profiles_derive_from_the_active_default() -> None:
    from hypothesis import settings

    with_user = settings(settings.default, database=None)
    settings.register_profile("lifecycle-test-user", with_user)
    ci, thorough = PROFILES["ci"], PROFILES["thorough"]
    assert thorough.max_examples > ci.max_examples and thorough.crash_kills > ci.crash_kills
    assert ci.hypothesis_settings().max_examples == ci.max_examples
    assert ci.hypothesis_settings().deadline is None
    named = get_profile("lifecycle-test-user")
    assert named.hypothesis_settings().database is None
    with pytest.raises(KeyError, match="unknown lifecycle profile"):
        get_profile("nonsense")


@pytest.mark.extended  # opt-in: .ci/run
def test_xdist_gives_the_serial_verdicts(pytester: pytest.Pytester) -> None:
    """A mutant's verdicts on the whole contract, state machine included, are the same under ``-n 2``.

    In-process (the workers are processes anyway), without shrinking: the
    verdicts are the point here, the shrunk steps are checked above.
    """
    late_commit = _mutant("LC-05")
    mutant, name = f"{late_commit.module}:provider", late_commit.provider
    verdicts = []
    for extra in ([], ["-n", "2"]):
        _, doc = run_suite(
            pytester, "session_lifecycle", "--lifecycle-profile", NO_SHRINK, *extra, provider=mutant,
            plan=Plan({name: None}),
        )  # fmt: skip
        verdicts.append({p: {r: v["verdict"] for r, v in rules.items()} for p, rules in doc["providers"].items()})
    serial, parallel = verdicts
    other = parallel.get(name, {})
    differ = {r: (v, other.get(r)) for r, v in serial.get(name, {}).items() if other.get(r) != v}
    assert serial == parallel, f"rule: (serial, -n 2) verdicts that differ: {differ}"
    assert serial[name]["LC-05"] == "failed"
