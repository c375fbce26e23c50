"""``--lifecycle-cov``: which lines of the provider each rule runs.

The runs are child processes (``python -m pytest``): coverage's tracer and
pytester's in-process runs do not mix.  They certify ``tinyprov``, a tiny
provider written below -- the reference with marked lines: a method only
LK-04 calls, a helper that says which thread it runs on, a method and a
branch nothing calls -- on three rules (LK-03, LK-04, ST-01), so each run
takes seconds.  A ``-p lcdump`` plugin writes what
:func:`pytest_lifecycle._plugin.provider_coverage.measurement` found, and counts the
``Coverage`` objects started in the process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle._plugin.provider_coverage import combine, definition_lines, finish

TINY = '''\
"""A tiny provider for the coverage tests: the reference, with marked lines."""

import threading

from pytest_lifecycle import Provider
from reference_impl.event_streams import ERRORS, MemoryStreamRegistry
from reference_impl.keyed_locks import KeyedLocks


def _where():
    if threading.current_thread() is threading.main_thread():
        return "main"  # mark: main-thread
    return "thread"  # mark: other-thread


class Locks(KeyedLocks):
    def lock_for(self, key):
        self.where = _where()  # mark: lock_for
        return super().lock_for(key)

    def rotate(self, old_key, new_key, held_lock):
        self.rotated = True  # mark: rotate
        return super().rotate(old_key, new_key, held_lock)

    def audit(self):
        return sorted(self._table)  # mark: never-called


class Streams(MemoryStreamRegistry):
    async def get_or_create(self, stream_id):
        self.where = _where()  # mark: get_or_create
        return await super().get_or_create(stream_id)


def locks(ctx):
    if ctx is None:
        raise ValueError("no context")  # mark: dark-branch
    return Locks()


def streams(ctx):
    return Streams(cursor_fn=ctx.cursor_fn, ttl_seconds=ctx.ttl_seconds, clock=ctx.clock)


provider = Provider("tiny", keyed_locks=locks, event_streams=streams, capabilities={"tombstones"},
                    options={"event_streams": ERRORS})
'''

DUMP = '''\
"""Writes provider_coverage.measurement() to $LCDUMP; counts the Coverage objects started here."""

import json
import os
from pathlib import Path

import coverage

STARTED = set()
_start = coverage.Coverage.start


def _counting_start(self):
    STARTED.add(id(self))
    return _start(self)


coverage.Coverage.start = _counting_start


def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return
    from pytest_lifecycle._plugin import provider_coverage

    found = provider_coverage.measurement(session.config)
    Path(os.environ["LCDUMP"]).write_text(json.dumps(
        {"sections": found.sections, "rule_lines": found.rule_lines, "started": len(STARTED)}))
'''

RULES = ("--lifecycle-rule", "LK-03", "--lifecycle-rule", "LK-04", "--lifecycle-rule", "ST-01")
FILE = "tinyprov/__init__.py"


def mark(name: str) -> int:
    """The line of ``# mark: name`` in the tiny provider."""
    (line,) = [n for n, text in enumerate(TINY.splitlines(), 1) if text.endswith(f"# mark: {name}")]
    return line


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("provider-cov")
    (root / "tinyprov").mkdir()
    (root / "tinyprov" / "__init__.py").write_text(TINY)
    (root / "lcdump.py").write_text(DUMP)
    # Not the project's ini (its addopts say -n auto): each run picks its own -n.
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


def run(workdir: Path, name: str, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    dump = workdir / f"{name}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE", "COVERAGE_"))}
    env.update(LCDUMP=str(dump), PYTHONPATH=os.pathsep.join([str(workdir), env.get("PYTHONPATH", "")]))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        "pytest.ini",
        "-p",
        "no:cacheprovider",
        "-p",
        "lcdump",
        "--pyargs",
        "conformance.keyed_locks",
        "conformance.event_streams",
        "--lifecycle-provider",
        "tinyprov:provider",
        *RULES,
        *args,
    ]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)  # safety-net
    found = json.loads(dump.read_text()) if dump.exists() else {}
    return proc, found


def comparable(found: dict[str, Any]) -> dict[str, Any]:
    """Sections and rule lines without what names the run (html dir, who measured)."""
    sections = {
        p: {k: v for k, v in s.items() if k not in ("html", "measured_by")} for p, s in found["sections"].items()
    }
    return {"sections": sections, "rule_lines": found["rule_lines"]}


@pytest.fixture(scope="module")
def serial(workdir: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    return run(workdir, "serial", "-n", "0", "--lifecycle-cov", "tinyprov", "--lifecycle-cov-html", "html")


def test_each_rule_has_the_lines_it_ran(serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]]) -> None:
    """LK-04 rotates, LK-03 does not: only LK-04's context holds rotate's body; ST-01 holds no lock line."""
    proc, found = serial
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = found["rule_lines"]["tiny"]
    assert mark("rotate") in lines["LK-04"][FILE]
    assert mark("rotate") not in lines["LK-03"][FILE]
    assert mark("lock_for") in lines["LK-03"][FILE] and mark("lock_for") in lines["LK-04"][FILE]
    assert mark("lock_for") not in lines["ST-01"][FILE]
    section = found["sections"]["tiny"]
    assert section["measured_by"] == "pytest-lifecycle" and section["packages"] == ["tinyprov"]
    assert {r: section["rules"][r]["lines"] for r in section["rules"]} == {r: len(v[FILE]) for r, v in lines.items()}
    assert found["started"] == 1


def test_threads_and_the_asyncio_loop_thread_are_measured(
    serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    """The kit calls the provider on worker threads and runs coroutines on a loop thread: both are traced."""
    _, found = serial
    lines = found["rule_lines"]["tiny"]
    assert mark("other-thread") in lines["LK-03"][FILE]
    # get_or_create is a coroutine: it only ever runs on the kit's asyncio loop thread.
    assert mark("get_or_create") in lines["ST-01"][FILE]
    assert mark("main-thread") in found["sections"]["tiny"]["dark"][FILE]


def test_dark_lines_are_the_ones_no_rule_reaches(
    serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]],
) -> None:
    """A never-called method, a never-taken branch, the main-thread path: dark; definitions are not."""
    proc, found = serial
    section = found["sections"]["tiny"]
    assert section["dark"] == {FILE: sorted([mark("main-thread"), mark("never-called"), mark("dark-branch")])}
    assert section["statements"] - section["reached"] == 3
    assert section["share"] == round(section["reached"] / section["statements"], 3)
    contracts = section["contracts"]
    assert set(contracts) == {"keyed_locks", "event_streams"}
    for numbers in contracts.values():
        assert 0 < numbers["reached"] < numbers["statements"] == section["statements"]
    # get_or_create is reached by event_streams only; rotate by keyed_locks only.
    assert contracts["keyed_locks"]["reached"] != contracts["event_streams"]["reached"]
    summary = [line for line in proc.stdout.splitlines() if line.startswith("coverage of provider 'tiny' (tinyprov)")]
    assert [line.split(": ")[1].split(" ")[0] for line in summary] == ["keyed_locks", "event_streams", "all"]
    assert "3 dark lines" in summary[-1]


def test_html_report_shows_the_rule_contexts(
    workdir: Path, serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    """--lifecycle-cov-html writes coverage's HTML report, whose lines name the contexts LK-04[tiny] etc."""
    _, found = serial
    html = workdir / "html"
    assert found["sections"]["tiny"]["html"] == str(html.resolve())
    assert (html / "index.html").is_file()
    pages = "".join(p.read_text() for p in html.glob("*.html"))
    assert "LK-04[tiny]" in pages and "ST-01[tiny]" in pages


@pytest.mark.extended  # opt-in: .ci/run
def test_xdist_gives_the_same_numbers(
    workdir: Path, serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    """Under -n 2 each worker measures into its own data file; the controller's combination equals the serial run."""
    proc, found = run(workdir, "xdist", "-n", "2", "--lifecycle-cov", "tinyprov")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert found["sections"]["tiny"]["measured_by"] == "pytest-lifecycle"
    assert comparable(found) == comparable(serial[1])


def cov_totals(path: Path) -> dict[str, Any]:
    doc = json.loads(path.read_text())
    return {"totals": doc["totals"], "files": {f: d["executed_lines"] for f, d in doc["files"].items()}}


def test_inside_pytest_cov_no_second_coverage_and_same_report(
    workdir: Path, serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    """With pytest-cov measuring, contexts switch in its Coverage: its report is unchanged, no Coverage is added."""
    plain, _ = run(workdir, "cov-plain", "-n", "0", "--cov=tinyprov", "--cov-report=json:report-plain.json")
    assert plain.returncode == 0, plain.stdout[-3000:]
    proc, found = run(
        workdir,
        "cov-kit",
        "-n",
        "0",
        "--cov=tinyprov",
        "--cov-report=json:report-kit.json",
        "--lifecycle-cov",
        "tinyprov",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert cov_totals(workdir / "report-kit.json") == cov_totals(workdir / "report-plain.json")
    assert found["started"] == 1  # pytest-cov's, and no other
    assert found["sections"]["tiny"]["measured_by"] == "pytest-cov"
    assert comparable(found) == comparable(serial[1])


@pytest.mark.extended  # opt-in: .ci/run
def test_inside_pytest_cov_with_xdist(
    workdir: Path, serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    """pytest-cov -n 2: its workers' Coverage carry the contexts; its combined data gives the serial numbers."""
    proc, found = run(workdir, "cov-xdist", "-n", "2", "--cov=tinyprov", "--cov-report=", "--lifecycle-cov", "tinyprov")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert found["sections"]["tiny"]["measured_by"] == "pytest-cov"
    assert comparable(found) == comparable(serial[1])


def test_pytest_cov_test_contexts_map_to_rules(
    workdir: Path, serial: tuple[subprocess.CompletedProcess[str], dict[str, Any]]
) -> None:
    """--cov-context=test: pytest-cov names contexts after tests; the kit keeps them and maps them to rules."""
    proc, found = run(
        workdir,
        "cov-context",
        "-n",
        "0",
        "--cov=tinyprov",
        "--cov-report=",
        "--cov-context=test",
        "--lifecycle-cov",
        "tinyprov",
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert comparable(found) == comparable(serial[1])


def test_a_package_pytest_cov_does_not_measure_is_named(workdir: Path) -> None:
    """--cov=reference_impl --lifecycle-cov tinyprov: the note says tinyprov is not measured; the sources it measures are reported."""
    proc, found = run(
        workdir, "cov-other", "-n", "0", "--cov=reference_impl", "--cov-report=", "--lifecycle-cov", "tinyprov"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    section = found["sections"]["tiny"]
    assert "tinyprov is not among the sources pytest-cov measures (reference_impl)" in section["note"]
    assert section["packages"] == ["reference_impl"] and section["statements"] > 0
    assert "note: tinyprov is not among the sources" in proc.stdout


def test_unknown_package_is_a_usage_error(workdir: Path) -> None:
    """A PACKAGE nothing answers to: exit code 4, naming it."""
    proc, _ = run(workdir, "unknown", "-n", "0", "--lifecycle-cov", "no_such_provider_pkg")
    assert proc.returncode == 4
    assert "--lifecycle-cov 'no_such_provider_pkg': no package or module of that name" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_html_without_a_package_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """--lifecycle-cov-html alone: exit code 4 saying what it needs (nothing is measured, so in-process is fine)."""
    result = pytester.runpytest_inprocess("--lifecycle-cov-html", "html", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--lifecycle-cov-html needs --lifecycle-cov PACKAGE*"])


STARTS = """\
import sys, threading
import coverage
from pytest_lifecycle._compat.cpython import guard_thread_tracing

sys.addaudithook(lambda event, args: None)  # Python code inside every sys.settrace, as the file-op recorder's
cov = coverage.Coverage(data_file=None, source_pkgs=["tinyprov"], concurrency=["thread"], config_file=False)
cov.start()
guard_thread_tracing()
died = []
threading.excepthook = lambda hook: died.append(hook.exc_value)
sys.unraisablehook = lambda hook: died.append(hook.exc_value)
for _ in range(40):
    start = threading.Barrier(9)
    sys.setswitchinterval(1e-6)  # as the stress tests do
    threads = [threading.Thread(target=start.wait, args=(10,), daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    start.wait(10)  # safety-net
    sys.setswitchinterval(0.005)
    for thread in threads:
        thread.join()
cov.stop()
print("died:", [repr(e) for e in died])
"""


def test_threads_started_together_all_install_the_tracer(tmp_path: Path) -> None:
    """Under a 1 µs switch interval with an audit hook, no new thread dies installing coverage's tracer.

    CPython 3.11 (gh-98257) refuses a second concurrent trace installation; unguarded, most rounds
    lose a thread and its barrier breaks -- a correct provider failing LK-02 only because it is measured.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_CORE", "COVERAGE_"))}
    proc = subprocess.run(
        [sys.executable, "-c", STARTS], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )  # safety-net
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "died: []", proc.stdout[-3000:]


def test_data_that_cannot_be_combined_is_a_warning(tmp_path: Path) -> None:
    """A worker data file that is not coverage data: the rest is combined, the bad one named, nothing raised."""
    from coverage import CoverageData

    good = CoverageData(basename=str(tmp_path / ".coverage"), suffix="good")
    good.set_context("LK-04[tiny]")
    good.add_lines({str(tmp_path / "x.py"): [1, 2]})
    good.write()
    (tmp_path / ".coverage.bad").write_text("not a database")
    cov, problems = combine(tmp_path, ["tinyprov"])
    assert cov is not None and problems and ".coverage.bad" in problems[0]
    assert cov.get_data().measured_contexts() == {"LK-04[tiny]"}
    (tmp_path / ".coverage.good").unlink(missing_ok=True)
    (tmp_path / ".coverage").unlink(missing_ok=True)
    (tmp_path / ".coverage.bad").write_text("not a database")
    cov, problems = combine(tmp_path, ["tinyprov"])
    assert cov is None and problems


def test_definition_lines_are_what_runs_at_import(tmp_path: Path) -> None:
    """def/class headers, decorators, module and class bodies; never a function body."""
    source = tmp_path / "m.py"
    source.write_text(
        textwrap.dedent("""\
        import os
        @staticmethod
        def f(x=os.sep):
            return x
        class C:
            y = 1
            def g(self):
                if self:
                    return 2
        if os.sep:
            Z = 3
        else:
            Z = 4
    """)
    )
    assert definition_lines(source) == {1, 2, 3, 5, 6, 7, 10, 11, 13}


def test_finish_is_empty_without_the_option(pytestconfig: pytest.Config) -> None:
    """Without --lifecycle-cov the publisher gets no coverage section."""
    assert finish(pytestconfig) == {}
