"""The CI jobs of ``docs/ci.md`` work: their commands run, and produce what they upload.

The GitHub Actions workflow and the GitLab CI job are read from the page
(a small YAML reader below: the kit does not depend on a YAML library),
and their shell commands run in a scratch directory as the CI would run
them, except the ``pip install`` lines (the kit is installed).  The jobs
read the provider from ``LIFECYCLE_PROVIDER`` and the rule selection from
``LIFECYCLE_RULES``: here a provider that claims keyed_locks only, on one
rule, so the whole job takes seconds.  Then every file the job uploads
must exist and say what it should, and a broken provider must fail the
gate, annotated, with the artifacts still there.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle._render import html, markdown

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ci.md"
GOOD = "tests.examples.third_party_locks:provider"  # claims keyed_locks only; passes every LK rule
BROKEN = "tests.mutants.keyed_locks.lk01_new_lock_per_call:provider"  # breaks LK-01
RULES = "--rule LK-01"
WAIVERS = "lifecycle-waivers.toml"


# -- a YAML reader for the subset the examples use ---------------------------------
#
# Block mappings and sequences by indentation, ``|`` block scalars, plain and
# quoted scalars, flow sequences of plain words.  Enough for a workflow file;
# anything else is an error, so the examples stay within it.


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    if text.startswith("["):
        return [item.strip() for item in text[1:-1].split(",") if item.strip()]
    return re.sub(r"\s+#.*$", "", text)


class _Yaml:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.i = 0

    def _skip(self) -> None:
        while self.i < len(self.lines) and (
            not self.lines[self.i].strip() or self.lines[self.i].lstrip().startswith("#")
        ):
            self.i += 1

    def _peek(self) -> str | None:
        self._skip()
        return self.lines[self.i] if self.i < len(self.lines) else None

    def node(self) -> Any:
        line = self._peek()
        assert line is not None
        return self._seq(_indent(line)) if line.lstrip().startswith("- ") else self._map(_indent(line))

    def _seq(self, indent: int) -> list[Any]:
        out: list[Any] = []
        while (line := self._peek()) is not None and _indent(line) == indent and line.lstrip().startswith("- "):
            rest = line.lstrip()[2:]
            if re.match(r"^[\w.-]+:(\s|$)", rest):
                # "- key: value" opens a mapping indented past the dash.
                self.lines[self.i] = " " * (indent + 2) + rest
                out.append(self._map(indent + 2))
            else:
                self.i += 1
                out.append(_scalar(rest))
        return out

    def _map(self, indent: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while (line := self._peek()) is not None and _indent(line) == indent and not line.lstrip().startswith("- "):
            match = re.match(r"^([\w.-]+):(?:\s+(.*))?$", line.strip())
            assert match, f"not in the YAML subset the examples use: {line!r}"
            key, rest = match[1], (match[2] or "").strip()
            self.i += 1
            if rest == "|":
                out[key] = self._block(indent)
            elif rest and not rest.startswith("#"):
                out[key] = _scalar(rest)
            else:
                following = self._peek()
                nested = following is not None and (
                    _indent(following) > indent
                    or (_indent(following) == indent and following.lstrip().startswith("- "))
                )
                out[key] = self.node() if nested else None
        assert self._peek() is None or _indent(self._peek() or "") <= indent, f"bad indentation at {self._peek()!r}"
        return out

    def _block(self, indent: int) -> str:
        lines = []
        while self.i < len(self.lines) and (not self.lines[self.i].strip() or _indent(self.lines[self.i]) > indent):
            lines.append(self.lines[self.i])
            self.i += 1
        while lines and not lines[-1].strip():
            lines.pop()
        cut = min(_indent(line) for line in lines if line.strip())
        return "\n".join(line[cut:] for line in lines) + "\n"


def load_yaml(text: str) -> dict[str, Any]:
    doc = _Yaml(text).node()
    assert isinstance(doc, dict)
    return doc


def examples() -> dict[str, dict[str, Any]]:
    """The YAML examples of docs/ci.md by the file they stand for (their first line: ``# path``)."""
    found = {}
    for block in re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.M | re.S):
        name = block.splitlines()[0].removeprefix("# ").strip()
        found[name] = load_yaml(block)
    return found


# -- running a job ------------------------------------------------------------------


def _commands(script: str) -> str:
    """*script* without its ``pip install`` commands (continuation lines joined first)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    kept = [line for line in joined.splitlines() if not re.match(r"^\s*(python -m )?pip install\b", line)]
    return "\n".join(kept) + "\n"


@dataclass
class Job:
    """What a job did: its exit status, its output, and where it ran."""

    where: Path
    status: int = 0
    output: str = ""
    uploads: list[str] = field(default_factory=list)
    junit: str | None = None


def _environment(where: Path, variables: dict[str, Any], provider: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "PYTEST_", "LIFECYCLE_"))}
    env.update({k: str(v) for k, v in variables.items()})
    env.update(
        LIFECYCLE_PROVIDER=provider,
        LIFECYCLE_RULES=RULES,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        # The jobs call the installed scripts: those of this interpreter, activated or not.
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    return env


def _run(script: str, where: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", _commands(script)],
        cwd=where,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )  # safety-net


def run_github(where: Path, provider: str) -> Job:
    workflow = examples()[".github/workflows/lifecycle.yml"]
    (job,) = workflow["jobs"].values()
    env = _environment(where, job.get("env") or {}, provider)
    env.update(GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(where / "step-summary.md"))
    result = Job(where)
    for step in job["steps"]:
        if str(step.get("uses", "")).startswith("actions/upload-artifact"):
            result.uploads = [p for p in step["with"]["path"].splitlines() if p.strip()]
        if "run" not in step or (result.status and step.get("if") != "always()"):
            continue
        done = _run(step["run"], where, env)
        result.output += done.stdout + done.stderr
        result.status = result.status or done.returncode
    return result


def run_gitlab(where: Path, provider: str) -> Job:
    pipeline = examples()[".gitlab-ci.yml"]
    (job,) = (j for j in pipeline.values() if isinstance(j, dict) and "script" in j)
    env = _environment(where, {**(pipeline.get("variables") or {}), **(job.get("variables") or {})}, provider)
    result = Job(where, uploads=list(job["artifacts"]["paths"]), junit=job["artifacts"]["reports"]["junit"])
    for line in [*job.get("before_script", []), *job["script"]]:
        done = _run(line, where, env)
        result.output += done.stdout + done.stderr
        if done.returncode:
            result.status = done.returncode
            break
    for line in job.get("after_script", []):  # GitLab runs these whatever the script did
        done = _run(line, where, env)
        result.output += done.stdout + done.stderr
    return result


def _check_uploads(job: Job, verdict: str) -> dict[str, Any]:
    """Every uploaded file exists and is what it says; returns the certificate."""
    missing = [p for p in job.uploads if not (job.where / p).is_file()]
    assert job.uploads and not missing, f"the job uploads files it did not make: {missing}\n{job.output[-3000:]}"
    files = {Path(p).name: job.where / p for p in job.uploads}
    cert = json.loads(files["certificate.json"].read_text(encoding="utf-8"))
    assert cert["verdict"] == verdict, job.output[-3000:]
    assert cert["run"]["rule_filter"] == ["LK-01"]
    assert files["summary.md"].read_text(encoding="utf-8") == markdown.render(cert)
    assert files["report.html"].read_text(encoding="utf-8") == html.render(cert)
    cases = ET.parse(files["junit.xml"]).getroot().findall(".//testcase")
    assert cases and all(
        {"lifecycle_rule", "lifecycle_level", "lifecycle_provider"} <= {p.get("name") for p in case.iter("property")}
        for case in cases
    ), files["junit.xml"].read_text(encoding="utf-8")
    badge = ET.parse(files["badge.svg"]).getroot()
    assert verdict in [t.text for t in badge.iter("{http://www.w3.org/2000/svg}text")]
    if job.junit is not None:
        assert job.junit in job.uploads, "the JUnit report GitLab reads is not among the artifacts"
    return cert


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / WAIVERS).write_text("# known deviations: none yet\n", encoding="utf-8")
    return tmp_path


def test_github_job_certifies_and_uploads_its_files(workdir: Path) -> None:
    job = run_github(workdir, GOOD)
    assert job.status == 0, job.output[-3000:]
    cert = _check_uploads(job, "certified")
    assert list(cert["providers"]) == ["namedlocks"]
    assert (workdir / "step-summary.md").read_text(encoding="utf-8") == markdown.render(cert) + "\n"
    assert "::error" not in job.output and "::warning" not in job.output


def test_github_job_fails_the_gate_on_a_broken_provider(workdir: Path) -> None:
    job = run_github(workdir, BROKEN)
    assert job.status == 1, job.output[-3000:]
    cert = _check_uploads(job, "not certified")
    assert cert["providers"]["mutant-new-lock-per-call"]["rules"]["LK-01"]["verdict"] == "failed"
    assert "::error title=LK-01 (mutant-new-lock-per-call)::[LK-01]" in job.output
    assert "LK-01" in (workdir / "step-summary.md").read_text(encoding="utf-8")


def test_gitlab_job_certifies_and_uploads_its_files(workdir: Path) -> None:
    job = run_gitlab(workdir, GOOD)
    assert job.status == 0, job.output[-3000:]
    _check_uploads(job, "certified")
    assert "::error" not in job.output, "GitHub annotations outside GitHub Actions"


def test_the_page_links_resolve() -> None:
    text = DOC.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)):
        assert (DOC.parent / target).exists(), f"docs/ci.md links {target}, which does not exist"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for anchor in re.findall(r"README\.md#([\w-]+)", text):
        assert re.search(rf"^#+ {anchor.replace('-', '[ -]')}$", readme, re.M | re.I), (
            f"README has no section #{anchor}"
        )
