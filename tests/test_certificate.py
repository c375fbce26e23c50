"""The certificate (``--lifecycle-certificate``): real runs, validated against the shipped schema.

Each test certifies a provider on a few fast rules in-process and checks
the document against ``pytest_lifecycle/certificate.schema.json`` and the
verdict rules: ``certified`` only when every claimed rule passed, ``certified
(non-strict)`` when only a SHOULD broke, else ``not certified`` -- ``not
claimed``, ``skipped`` and ``incomplete`` never count as passed.
"""

from __future__ import annotations

import copy
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from pytest_lifecycle._plugin import certificate

SCHEMA = json.loads(resources.files("pytest_lifecycle").joinpath("certificate.schema.json").read_text(encoding="utf-8"))
REFERENCE = "reference_impl.provider:provider"
ROTATION_POPS_OLD = "tests.mutants.keyed_locks.lk04_rotation_pops_old:provider"
HELD_LOCK_NOT_PINNED = "tests.mutants.keyed_locks.lk01_held_lock_not_pinned:provider"
LOCKS_ONLY = """
from pytest_lifecycle import Provider
from reference_impl.keyed_locks import factory

provider = Provider("locks-only", keyed_locks=factory)
"""


@pytest.fixture(autouse=True)
def _not_under_github_actions(monkeypatch: pytest.MonkeyPatch) -> None:
    # The in-process runs would append to the real job summary of a CI run.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def validate(cert: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(cert), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def certify(
    pytester: pytest.Pytester, *args: str, plugins: list[object] | None = None
) -> tuple[pytest.RunResult, dict[str, Any]]:
    path = pytester.path / "cert.json"
    result = pytester.runpytest_inprocess(
        "--lifecycle-certificate", str(path), "-p", "no:cacheprovider", *args, plugins=plugins or []
    )
    assert path.exists(), result.stdout.str() + result.stderr.str()
    cert = json.loads(path.read_text(encoding="utf-8"))
    validate(cert)
    return result, cert


def lk(*rules: str) -> list[str]:
    return ["--pyargs", "conformance.keyed_locks", *(a for r in rules for a in ("--lifecycle-rule", r))]


def test_the_reference_is_certified(pytester: pytest.Pytester) -> None:
    result, cert = certify(pytester, *lk("LK-03", "LK-04"))
    assert result.ret == 0
    assert cert["verdict"] == "certified"
    assert cert["kit"]["catalogue_sha256"] == certificate.catalogue_sha256()
    run = cert["run"]
    assert run["complete"] and run["exitstatus"] == 0 and run["profile"] == "ci"
    assert run["command"][0] == "pytest" and "--lifecycle-certificate" in run["command"]
    assert run["rule_filter"] == ["LK-03", "LK-04"] and run["hypothesis_seed"] is None
    (name,) = cert["providers"]
    reference = cert["providers"][name]
    assert reference["spec"] == REFERENCE and REFERENCE in reference["origin"]
    assert reference["distribution"]["name"] == "pytest-lifecycle"
    assert reference["verdict"] == "certified"
    assert reference["contracts"] == {"keyed_locks": {"verdict": "certified", "rules": ["LK-03", "LK-04"]}}
    for rule_id, rule in reference["rules"].items():
        assert rule["verdict"] == "passed" and rule["witnesses"] == [] and rule["message"] is None
        assert rule["tests"] and all(t["outcome"] == "passed" for t in rule["tests"])
        assert rule["text"] == f"pytest_lifecycle/contract/keyed_locks.md#{rule_id.lower()}"


def test_a_broken_must_is_not_certified_and_leaves_a_witness(pytester: pytest.Pytester) -> None:
    result, cert = certify(
        pytester, *lk("LK-03", "LK-04"), "--lifecycle-provider", ROTATION_POPS_OLD, "--hypothesis-seed=7"
    )
    assert result.ret == 1
    assert cert["verdict"] == "not certified" and cert["run"]["hypothesis_seed"] == "7"
    mutant = cert["providers"]["mutant-rotation-pops-old"]
    assert mutant["verdict"] == "not certified"
    assert mutant["contracts"]["keyed_locks"]["verdict"] == "not certified"
    assert mutant["rules"]["LK-03"]["verdict"] == "passed"
    rule = mutant["rules"]["LK-04"]
    assert rule["verdict"] == "failed" and rule["message"].startswith("[LK-04]")
    assert rule["witnesses"], rule
    for witness in rule["witnesses"]:
        assert witness["message"].startswith("[LK-04]") and "[LK-04]" in witness["trace"]
        assert witness["replay"].startswith("pytest --pyargs conformance.keyed_locks -k 'test_lk04")
        assert witness["replay"].endswith(f"--lifecycle-provider {ROTATION_POPS_OLD} --hypothesis-seed=7")
        assert witness["seed"] == "7" and witness["steps"] is None  # not a state machine


def test_a_broken_should_alone_is_certified_non_strict(pytester: pytest.Pytester) -> None:
    result, cert = certify(pytester, *lk("LK-01"), "--lifecycle-provider", HELD_LOCK_NOT_PINNED)
    assert result.ret == 0
    mutant = cert["providers"]["mutant-held-lock-not-pinned"]
    rule = mutant["rules"]["LK-01"]
    assert rule["verdict"] == "non-strict" and rule["level"] == "must+should"
    assert {t["level"] for t in rule["tests"]} == {"must", "should"}
    assert rule["witnesses"] and all(w["outcome"] == "non-strict" for w in rule["witnesses"])
    assert mutant["contracts"]["keyed_locks"]["verdict"] == "certified (non-strict)"
    assert mutant["verdict"] == cert["verdict"] == "certified (non-strict)"


def test_a_provider_that_claims_none_of_the_rules_is_not_certified(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(locksonly=LOCKS_ONLY)
    pytester.syspathinsert()
    result, cert = certify(
        pytester,
        "--pyargs",
        "conformance.session_lifecycle",
        "--lifecycle-rule",
        "LC-01",
        "--lifecycle-rule",
        "LC-03",
        "--lifecycle-provider",
        "locksonly:provider",
    )
    provider = cert["providers"]["locks-only"]
    assert {r["verdict"] for r in provider["rules"].values()} == {"not claimed"}
    assert sorted(provider["rules"]) == ["LC-01", "LC-03"]
    assert provider["contracts"]["session_lifecycle"]["verdict"] == "not claimed"
    assert provider["verdict"] == cert["verdict"] == "not certified"
    assert cert["run"]["exitstatus"] == result.ret


class Skips:
    """Skips the tests whose name contains one of *names* (as a broken environment would)."""

    def __init__(self, *names: str) -> None:
        self.names = names

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if any(name in item.name for name in self.names):
            pytest.skip("the environment cannot run this test")


def test_skipped_and_incomplete_rules_are_never_certified(pytester: pytest.Pytester) -> None:
    # LK-03 has one test (skipped), LK-04 two (one skipped: incomplete).
    _, cert = certify(
        pytester, *lk("LK-03", "LK-04"), plugins=[Skips("test_lk03_", "test_lk04_rotated_lock_excludes_both_ways")]
    )
    reference = next(iter(cert["providers"].values()))
    assert reference["rules"]["LK-03"]["verdict"] == "skipped"
    assert reference["rules"]["LK-04"]["verdict"] == "incomplete"
    assert reference["rules"]["LK-04"]["message"] == "the environment cannot run this test"
    assert reference["contracts"]["keyed_locks"]["verdict"] == "not certified"
    assert reference["verdict"] == cert["verdict"] == "not certified"


def _without_timings(cert: dict[str, Any]) -> dict[str, Any]:
    cert = copy.deepcopy(cert)
    for key in ("command", "started", "finished", "duration"):
        del cert["run"][key]
    for provider in cert["providers"].values():
        for rule in provider["rules"].values():
            del rule["duration"]
            for test in rule["tests"]:
                del test["duration"]
    return cert


def test_xdist_gives_the_same_certificate_as_a_serial_run(pytester: pytest.Pytester) -> None:
    # A state machine (LK-08, a few short examples) and a plain rule of another contract.
    pytester.makeconftest("""
        from hypothesis import settings

        settings.register_profile("few", max_examples=5, stateful_step_count=10, deadline=None)
    """)
    args = [
        "--pyargs",
        "conformance.keyed_locks",
        "conformance.session_lifecycle",
        "--lifecycle-rule",
        "LK-08",
        "--lifecycle-rule",
        "LC-01",
        "--lifecycle-profile",
        "few",
    ]
    serial_result, serial = certify(pytester, *args)
    parallel_result, parallel = certify(pytester, *args, "-n", "2")
    assert serial_result.ret == parallel_result.ret == 0
    assert set(next(iter(serial["providers"].values()))["rules"]) == {"LK-08", "LC-01"}
    assert serial["run"]["profile"] == "few" and serial["verdict"] == "certified"
    assert _without_timings(serial) == _without_timings(parallel)


def test_the_catalogue_hash_follows_the_contract_text(tmp_path: Path) -> None:
    shipped = Path(str(resources.files("pytest_lifecycle").joinpath("contract")))
    copy_dir = tmp_path / "contract"
    shutil.copytree(shipped, copy_dir)
    assert certificate.catalogue_sha256(copy_dir) == certificate.catalogue_sha256()
    text = copy_dir / "keyed_locks.md"
    original = text.read_text(encoding="utf-8")
    text.write_text(original.replace("MUST", "MUST ", 1), encoding="utf-8")
    assert certificate.catalogue_sha256(copy_dir) != certificate.catalogue_sha256()
    text.write_text(original, encoding="utf-8")
    (copy_dir / "keyed_locks.md").rename(copy_dir / "keyed_locks2.md")
    assert certificate.catalogue_sha256(copy_dir) != certificate.catalogue_sha256()


def test_a_path_that_cannot_be_written_is_a_usage_error(pytester: pytest.Pytester) -> None:
    missing = pytester.path / "no-such-dir" / "cert.json"
    result = pytester.runpytest_inprocess(
        *lk("LK-03"), "--lifecycle-certificate", str(missing), "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert errors == [f"ERROR: --lifecycle-certificate {missing}: cannot write: no directory {str(missing.parent)!r}"]


class RemovesDirectory:
    """Removes *path* when the session finishes, before the certificate is written."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        shutil.rmtree(self.path)


def test_a_path_that_stops_being_writable_fails_the_run_with_one_line(pytester: pytest.Pytester) -> None:
    out = pytester.mkdir("out")
    result = pytester.runpytest_inprocess(
        *lk("LK-03"),
        "--lifecycle-certificate",
        str(out / "cert.json"),
        "-p",
        "no:cacheprovider",
        plugins=[RemovesDirectory(out)],
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(
        f"pytest-lifecycle: --lifecycle-certificate {out / 'cert.json'}: cannot write: "
    ), errors
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


class ReadsCertificate:
    """Reads the certificate on disk when the first test starts."""

    seen: dict[str, Any] | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.seen is None:
            self.seen = json.loads(Path(item.config.option.lifecycle_certificate).read_text(encoding="utf-8"))


def test_a_run_that_has_not_finished_is_not_certified(pytester: pytest.Pytester) -> None:
    # What a run leaves on disk before it ends (and if it never does).
    reader = ReadsCertificate()
    result, final = certify(pytester, *lk("LK-03"), plugins=[reader])
    assert result.ret == 0 and final["verdict"] == "certified"
    assert reader.seen is not None
    validate(reader.seen)
    assert reader.seen["verdict"] == "not certified" and not reader.seen["run"]["complete"]
    assert reader.seen["run"]["exitstatus"] is None and reader.seen["run"]["finished"] is None
    assert list(reader.seen["providers"]) == list(final["providers"])  # it names who is being certified


def test_load_names_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "cert.json"
    for text, expected in (
        ("{", "not valid JSON"),
        ("[]", "not a certificate"),
        ('{"schema_version": 2}', "schema version 1"),
        ('{"schema_version": 1, "kit": {}}', "'run' missing"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(certificate.CertificateError) as caught:
            certificate.load(path)
        assert expected in str(caught.value) and "\n" not in str(caught.value)
