"""``pytest-lifecycle certify --certificate``, ``replay`` and ``badge``, as a user runs them.

One certificate is made once for the module (a mutant whose failing test is
the LK-08 state machine, plus a rule it passes); ``replay`` must run that
test again with the recorded provider, seed and profile and fail it again,
and every bad input must be one line on stderr with exit code 4.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .test_certificate import validate

ROOT = Path(__file__).resolve().parents[1]
MUTANT = "tests.mutants.keyed_locks.lk04_rotation_pops_old:provider"
NAME = "mutant-rotation-pops-old"
CI_VARIABLES = (
    "CI",
    "TF_BUILD",
    "GITHUB_ACTIONS",
    "BUILDKITE",
    "CIRCLECI",
    "GITLAB_CI",
    "JENKINS_URL",
    "GITHUB_STEP_SUMMARY",
)


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # The mutants import as ``tests.mutants…``; Hypothesis' CI profile (derandomized, no seed) stays off.
    env = {k: v for k, v in os.environ.items() if k not in CI_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest_lifecycle", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )  # safety-net


@pytest.fixture(scope="module")
def certified(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The directory of the run and its certificate: LK-08 failed (a state machine), LK-03 passed."""
    where = tmp_path_factory.mktemp("certify")
    # A lighter profile than ci (which finds the bug too, but shrinks for longer); replay must pass it on.
    (where / "conftest.py").write_text(
        "from hypothesis import settings\n\n"
        "settings.register_profile('few', max_examples=20, stateful_step_count=12, deadline=None)\n",
        encoding="utf-8",
    )
    done = cli(
        where,
        "certify",
        MUTANT,
        "--rule",
        "LK-08",
        "--rule",
        "LK-03",
        "--profile",
        "few",
        "--certificate",
        "cert.json",
        "--",
        "-q",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    return where, json.loads((where / "cert.json").read_text(encoding="utf-8"))


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 4, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_certify_writes_a_certificate_with_the_shrunk_steps(certified: tuple[Path, dict[str, Any]]) -> None:
    _, cert = certified
    mutant = cert["providers"][NAME]
    assert cert["verdict"] == mutant["verdict"] == "not certified" and cert["run"]["profile"] == "few"
    assert mutant["rules"]["LK-03"]["verdict"] == "passed"
    (witness,) = mutant["rules"]["LK-08"]["witnesses"]
    assert witness["steps"][0].startswith("state = ") and witness["steps"][-1] == "state.teardown()"
    assert witness["seed"] is not None
    assert f"--lifecycle-provider {MUTANT} " in witness["replay"]
    assert witness["replay"].endswith(f" --hypothesis-seed={witness['seed']}")


def test_replay_fails_the_rule_again_with_the_recorded_seed(certified: tuple[Path, dict[str, Any]]) -> None:
    where, cert = certified
    seed = cert["providers"][NAME]["rules"]["LK-08"]["witnesses"][0]["seed"]
    done = cli(where, "replay", "cert.json", "LK-08")
    assert done.returncode == 1, done.stdout + done.stderr
    (command,) = [line for line in done.stderr.splitlines() if line.startswith("pytest-lifecycle replay: ")]
    assert f"--lifecycle-provider {MUTANT} --lifecycle-profile few --hypothesis-seed={seed}" in command
    assert "-k test_lk08_model_conformance" in command
    assert "[LK-08]" in done.stdout and "1 failed" in done.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["cert.json", "LK-99"], "unknown rule id 'LK-99'"),
        (["cert.json", "LK-03"], "LK-03 did not fail in cert.json (passed for 'mutant-rotation-pops-old')"),
        (["cert.json", "LC-05"], "LC-05 did not fail in cert.json (it did not run)"),
        (["cert.json", "LK-08", "--provider", "nope"], "cert.json has no provider 'nope' (it certifies: mutant-"),
        (["missing.json", "LK-08"], "missing.json: cannot read"),
        (["garbage.json", "LK-08"], "garbage.json: not valid JSON"),
        (["other.json", "LK-08"], "other.json: not a pytest-lifecycle certificate of schema version 1"),
        (["cert.json"], "the following arguments are required: RULE"),
    ],
    ids=[
        "unknown-rule",
        "rule-passed",
        "rule-not-run",
        "unknown-provider",
        "no-file",
        "not-json",
        "not-schema",
        "no-rule",
    ],
)
def test_replay_refuses_bad_input_in_one_line(
    certified: tuple[Path, dict[str, Any]], args: list[str], expected: str
) -> None:
    where, _ = certified
    (where / "garbage.json").write_text("{not json", encoding="utf-8")
    (where / "other.json").write_text('{"schema_version": 2, "providers": {}}', encoding="utf-8")
    line = one_line_error(cli(where, "replay", *args))
    assert line.startswith("pytest-lifecycle replay: ") and expected in line, line


def test_badge_writes_an_svg(certified: tuple[Path, dict[str, Any]]) -> None:
    pytest.importorskip("pytest_lifecycle._render.badge")
    where, _ = certified
    done = cli(where, "badge", "cert.json")
    assert done.returncode == 0, done.stderr
    root = ET.parse(where / "lifecycle-badge.svg").getroot()
    assert root.tag.endswith("svg")
    assert "not certified" in "".join(root.itertext())
    done = cli(where, "badge", "cert.json", "--provider", NAME, "-o", "mine.svg")
    assert done.returncode == 0 and ET.parse(where / "mine.svg").getroot().tag.endswith("svg")
    assert "has no provider 'nope'" in one_line_error(cli(where, "badge", "cert.json", "--provider", "nope"))


def test_certify_refuses_a_certificate_path_it_cannot_write(tmp_path: Path) -> None:
    done = cli(tmp_path, "certify", "--rule", "LK-03", "--certificate", "no-such-dir/cert.json", "--", "-q")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "--lifecycle-certificate no-such-dir/cert.json: cannot write: no directory 'no-such-dir'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_provider_that_ends_the_process_is_certified_as_not_certified(tmp_path: Path) -> None:
    (tmp_path / "exits.py").write_text(
        """
import os
from pytest_lifecycle import Provider
from reference_impl.session_lifecycle import SessionLifecycle

class Exits(SessionLifecycle):
    def discard_session(self, sid):
        os._exit(0)

provider = Provider("exits", session_lifecycle=lambda ctx: Exits())
""",
        encoding="utf-8",
    )
    done = cli(tmp_path, "certify", "exits:provider", "--rule", "LC-16", "--certificate", "cert.json", "--", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    cert = json.loads((tmp_path / "cert.json").read_text(encoding="utf-8"))
    validate(cert)
    assert cert["verdict"] == "not certified" and cert["run"]["complete"] is False
    exits = cert["providers"]["exits"]
    assert exits["spec"] == "exits:provider" and exits["verdict"] == "not certified"
    rule = exits["rules"]["LC-16"]
    assert rule["verdict"] == "failed"
    (witness,) = rule["witnesses"]
    assert witness["message"].startswith("[LC-16] provider 'exits' ended the process (exit code 0) during ")
    assert witness["replay"].startswith("pytest --pyargs conformance.session_lifecycle -k 'test_lc16_")
    assert witness["replay"].endswith("--lifecycle-provider exits:provider")
    assert "provider 'exits' (during LC-16, in " in done.stderr
