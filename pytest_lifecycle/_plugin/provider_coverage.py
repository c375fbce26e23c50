"""Coverage of the provider, per rule (``--lifecycle-cov PACKAGE``).

coverage.py measures the provider's PACKAGE with one dynamic context per
(provider, rule) -- ``LC-05[reference]`` -- switched when a conformance test
starts its setup and switched back to the empty *harness* context when its
teardown ends.  Every thread the kit starts (provider calls, the asyncio
loop of event_streams) is traced.  At the end of the session
:func:`finish` folds the contexts into one section per provider: the lines
each rule ran, the share of the package the rules reach (overall and per
contract) and the *dark* lines no rule reaches.

Definitions
  *Definition lines* are the statements that run when a module is
  imported: module- and class-level statements, ``def``/``class`` lines
  with their decorators.  They count as reached when the import ran them
  (or, for a module imported before measurement started, when any line of
  it ran); a rule's lines never include them, so which test happened to
  import a module first changes nothing.
  A rule's *lines* are the other statements of PACKAGE (bodies) that ran
  while a test of that rule was set up, run or torn down, on any thread.
  Garbage is collected (in the harness context) before the first test of
  each contract, so finalizers of another contract's objects do not run
  inside its rules.
  *Reached* = the provider's rule lines plus the reached definition lines;
  *dark* = statements of PACKAGE that are not reached.  Per contract the
  share is taken over the files of PACKAGE in which the contract's rules
  ran a line.

Who measures
  With nothing measuring, the kit starts its own ``Coverage`` in
  ``pytest_configure`` (before providers are imported); under xdist each
  worker writes a data file into a directory the controller made and passes
  on, and the controller combines them.  When a ``Coverage`` is already
  running (pytest-cov, ``coverage run``), none is started: contexts are
  switched in the running one and the report covers what it measures.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib.util
import os
import re
import shutil
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Generator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from pytest_lifecycle._compat import cpython
from pytest_lifecycle._core.catalogue import RULES

if TYPE_CHECKING:
    from coverage import Coverage
    from coverage.data import CoverageData

__all__ = [
    "HARNESS",
    "PLUGIN_NAME",
    "Measurement",
    "ProviderCoverage",
    "combine",
    "configure",
    "context_label",
    "definition_lines",
    "finish",
    "measurement",
]

PLUGIN_NAME: Final = "lifecycle-provider-coverage"
#: The context outside conformance tests: imports, collection, the gaps between tests.
HARNESS: Final = ""
#: workerinput key: the directory xdist workers write their data files into.
WORKER_DIR: Final = "lifecycle_cov_dir"
#: Warnings our own measurement never needs (modules of PACKAGE a run does not import are dark, not a warning).
QUIET: Final = ("module-not-imported", "no-data-collected", "module-not-measured", "already-imported")

_LABEL: Final = re.compile(r"(?:^|\|)([A-Z]+-\d+)\[(.+)\]$")


def context_label(provider: str, rule: str) -> str:
    """The dynamic context of a (provider, rule): ``LC-05[reference]``."""
    return f"{rule}[{provider}]"


class ProviderCoverageWarning(pytest.PytestWarning):
    """Provider coverage could not be measured or combined as asked."""


# ---------------------------------------------------------------------------
# The package to measure
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Package:
    """An importable package (or single module) named by ``--lifecycle-cov``."""

    name: str
    #: Its directories (a namespace package has several) or its one module file.
    roots: tuple[Path, ...]

    def owns(self, path: Path) -> bool:
        return any(path == root or root in path.parents for root in self.roots)

    def relative(self, path: Path) -> str:
        """*path* from the directory holding the package: ``mypkg/sub/x.py``."""
        for root in self.roots:
            if path == root or root in path.parents:
                return path.relative_to(root.parent).as_posix()
        return path.as_posix()

    def files(self) -> list[Path]:
        """Its Python files, as coverage's ``source`` finds them (subpackages need ``__init__.py``)."""
        found: list[Path] = []
        for root in self.roots:
            if root.is_file():
                found.append(root)
                continue
            for here, dirs, names in os.walk(root):
                dirs[:] = sorted(
                    d for d in dirs if not d.startswith((".", "__")) and (Path(here, d) / "__init__.py").is_file()
                )
                found += (Path(here, n) for n in sorted(names) if n.endswith(".py"))
        return found


def find_package(name: str) -> Package:
    """Resolve a ``--lifecycle-cov`` name, or say plainly that nothing answers to it (a usage error)."""
    try:
        spec = importlib.util.find_spec(name)
    except Exception as exc:  # a parent package that fails to import, a malformed name
        raise pytest.UsageError(f"--lifecycle-cov {name!r}: cannot look it up: {type(exc).__name__}: {exc}") from None
    if spec is None:
        raise pytest.UsageError(
            f"--lifecycle-cov {name!r}: no package or module of that name is importable "
            "(give the import name of the provider's package, e.g. --lifecycle-cov reference_impl)"
        )
    if spec.submodule_search_locations:
        return Package(name, tuple(Path(p).resolve() for p in spec.submodule_search_locations))
    if spec.origin and spec.origin.endswith(".py"):
        return Package(name, (Path(spec.origin).resolve(),))
    raise pytest.UsageError(
        f"--lifecycle-cov {name!r}: {spec.origin or 'a built-in module'} is not Python source; nothing to measure"
    )


@cache
def definition_lines(path: Path) -> frozenset[int]:
    """The lines of *path* that run at import: module and class bodies, ``def``/``class`` headers with decorators."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    lines: set[int] = set()

    def header(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        first = min([d.lineno for d in node.decorator_list] + [node.lineno])
        lines.update(range(first, max(node.body[0].lineno, node.lineno + 1)))

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                header(node)  # the body runs when called, not at import
            elif isinstance(node, ast.ClassDef):
                header(node)
                visit(node.body)
            else:
                nested = [getattr(node, name, None) for name in ("body", "orelse", "finalbody")]
                blocks = [b for b in nested if isinstance(b, list) and b and isinstance(b[0], ast.stmt)]
                if not blocks:
                    lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
                    continue
                lines.add(node.lineno)
                for block in blocks:
                    visit(block)
                for handler in getattr(node, "handlers", []):
                    lines.add(handler.lineno)
                    visit(handler.body)
                for case in getattr(node, "cases", []):
                    visit(case.body)

    visit(tree.body)
    return frozenset(lines)


# ---------------------------------------------------------------------------
# The result
# ---------------------------------------------------------------------------


@dataclass
class Measurement:
    """What :func:`finish` found; ``sections`` is what the certificate carries."""

    #: provider → coverage section (the certificate's ``providers[*].coverage``).
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: provider → rule → file (relative, as in ``dark``) → the lines that rule ran.
    rule_lines: dict[str, dict[str, dict[str, list[int]]]] = field(default_factory=dict)
    #: Labels of the packages each section covers, for the terminal line.
    labels: dict[str, str] = field(default_factory=dict)


def _share(reached: int, statements: int) -> float:
    return round(reached / statements, 3) if statements else 0.0


@dataclass
class _File:
    """One measured file: its statements and what ran where."""

    name: str  # as the coverage data stores it
    relative: str
    statements: frozenset[int]
    definitions: frozenset[int]
    #: Definition lines that count as reached (see the module docstring).
    reached_definitions: frozenset[int]
    #: (provider, rule) → body lines that ran in its context.
    by_rule: dict[tuple[str, str], set[int]]


# ---------------------------------------------------------------------------
# The plugin
# ---------------------------------------------------------------------------


class ProviderCoverage:
    """Switches contexts around conformance tests and folds them at the end of the session."""

    def __init__(self, config: pytest.Config, names: list[str], html: Path | None) -> None:
        self.config = config
        self.names = names
        self.html = html
        self.worker = hasattr(config, "workerinput")
        #: The Coverage this process started (own measurement), else None.
        self.own: Coverage | None = None
        #: A Coverage that was already running when the session configured.
        self.foreign: Coverage | None = None
        #: Controller of an xdist run measured by the kit: where the workers' data files go.
        self.data_dir: Path | None = None
        #: Whether this process switches contexts (not when the run's own contexts are per test).
        self.switching = True
        self.packages: list[Package] = []
        #: node id → (provider, rule), from the test reports (also those of xdist workers).
        self.tests: dict[str, tuple[str, str]] = {}
        #: (provider, rule) whose tests reached their call phase.
        self.ran: set[tuple[str, str]] = set()
        self.notes: list[str] = []
        self.result: Measurement | None = None
        self._labelled: set[str] = set()
        self._html_files: list[str] = []
        self._rule_memo: dict[str, tuple[str, str] | None] = {}
        #: The contract of the last conformance test this process set up.
        self._contract: str | None = None

    @property
    def kit_measures(self) -> bool:
        """Whether the kit runs the measurement (else a Coverage that was already running does)."""
        return self.own is not None or self.data_dir is not None

    # -- start --------------------------------------------------------------

    def start(self) -> None:
        import coverage

        current = coverage.Coverage.current()
        workerinput: dict[str, Any] = getattr(self.config, "workerinput", {})
        cov_plugin = self.config.pluginmanager.get_plugin("_cov")
        if getattr(self.config.option, "cov_context", None) == "test":
            # pytest-cov switches to "<nodeid>|<phase>" itself; its contexts map to rules by node id.
            self.switching = False
        if self.worker and WORKER_DIR not in workerinput:
            # The controller found a Coverage running: so will this worker (pytest-cov starts
            # its worker Coverage at session start); contexts are switched in whatever runs.
            self.foreign = current
        elif current is not None:
            self.foreign = current
        elif cov_plugin is not None and not getattr(cov_plugin, "_disabled", True):
            self.foreign = None  # pytest-cov measures but has not started yet: switch in it once it runs
        elif not self.worker and _distributed(self.config):
            # The controller runs no test: each worker measures, this process combines.
            self.data_dir = Path(tempfile.mkdtemp(prefix="pytest-lifecycle-cov-"))
        else:
            data_file = None
            if self.worker:
                data_file = str(Path(workerinput[WORKER_DIR]) / ".coverage")
            self.own = _new_coverage(self.names, data_file, notes=self.notes)
            self.own.start()
            cpython.guard_thread_tracing()
        try:
            self.packages = [find_package(name) for name in self.names]
        except pytest.UsageError:
            self.stop()
            raise

    @property
    def measured_by(self) -> str:
        if self.kit_measures:
            return "pytest-lifecycle"
        return "pytest-cov" if self.config.pluginmanager.get_plugin("_cov") is not None else "coverage"

    def _running(self) -> Coverage | None:
        if self.own is not None:
            return self.own
        import coverage

        return coverage.Coverage.current()

    def _switch(self, label: str) -> None:
        cov = self._running()
        if cov is None or not self.switching:
            return
        if cov.config.dynamic_context or not _supports_contexts(cov):
            # Its own per-test contexts (or none at all, core=sysmon): leave them be.
            self.switching = False
            return
        # A Coverage that stopped in between: measure nothing rather than break the test.
        with contextlib.suppress(Exception):
            cov.switch_context(label)

    # -- hooks --------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self.data_dir is not None:
            node.workerinput[WORKER_DIR] = str(self.data_dir)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        props = {str(k): str(v) for k, v in item.user_properties}
        rule, provider = props.get("lifecycle_rule"), props.get("lifecycle_provider")
        if rule is None or provider is None:
            return
        contract = RULES[rule].contract if rule in RULES else None
        measuring = self._running() is not None
        if measuring:
            cpython.guard_thread_tracing()  # also for a Coverage someone else started (pytest-cov)
        if contract != self._contract and self._contract is not None and measuring:
            # Still in the harness context: the finalizers (__del__) of the last contract's garbage
            # run now, not inside a rule of this one, whose files they would drag into its share.
            gc.collect()
        self._contract = contract
        self._labelled.add(item.nodeid)
        self._switch(context_label(provider, rule))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, object, object]:
        try:
            return (yield)
        finally:
            if item.nodeid in self._labelled:
                self._labelled.discard(item.nodeid)
                self._switch(HARNESS)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = {str(k): str(v) for k, v in report.user_properties}
        rule, provider = props.get("lifecycle_rule"), props.get("lifecycle_provider")
        if rule is None or provider is None:
            return
        self.tests[report.nodeid] = (provider, rule)
        if report.when == "call":
            self.ran.add((provider, rule))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        if not self.worker:
            self.finish()  # also without a terminal or a publisher: the HTML report is written
        elif self.own is not None:
            # Before xdist tells the controller this worker is done: the controller combines next.
            self.own.stop()
            try:
                self.own.save()
            except Exception as exc:
                _warn(
                    f"could not save the coverage data of worker {getattr(self.config, 'workerinput', {}).get('workerid')}: {exc}"
                )
            self.own = None

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.worker:
            return
        result = self.finish()
        if not result.sections and not self.notes:
            return
        tr = terminalreporter
        tr.write_sep("-", "lifecycle: coverage of the provider, per rule")
        for provider, section in result.sections.items():
            head = f"coverage of provider {provider!r} ({result.labels.get(provider, '')})"
            for contract, numbers in section["contracts"].items():
                tr.write_line(
                    f"{head}: {contract} {_percent(numbers)} ({numbers['reached']}/{numbers['statements']} lines)"
                )
            dark = sum(len(lines) for lines in section["dark"].values())
            tr.write_line(
                f"{head}: all contracts {_percent(section)} ({section['reached']}/{section['statements']} lines); "
                f"{dark} dark line{'s' if dark != 1 else ''} no rule reaches"
            )
            if section["note"]:
                tr.write_line(f"  note: {section['note']}", yellow=True)
        if result.sections and self.html is not None:
            tr.write_line(f"coverage per rule (HTML, one context per rule): {self.html}")
        if not result.sections:
            for note in self.notes:
                tr.write_line(f"note: {note}", yellow=True)

    def pytest_unconfigure(self) -> None:
        self.stop()

    def stop(self) -> None:
        cpython.unguard_thread_tracing()
        if self.own is not None:
            with contextlib.suppress(Exception):
                self.own.stop()
            self.own = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    # -- the end ------------------------------------------------------------

    def finish(self) -> Measurement:
        if self.result is not None:
            return self.result
        self.result = Measurement()
        try:
            cov = self._final_coverage()
            if cov is not None:
                self.result = self._fold(cov)
                if self.html is not None and self.result.sections:
                    self._write_html(cov)
        except Exception as exc:  # coverage of the provider is information: it never breaks the run
            self._note(f"provider coverage could not be computed: {type(exc).__name__}: {exc}")
        return self.result

    def _note(self, text: str) -> None:
        self.notes.append(text)
        _warn(text)

    def _final_coverage(self) -> Coverage | None:
        """The Coverage whose data holds every context of the run."""
        if self.own is not None:
            self.own.stop()
            return self.own
        if self.data_dir is not None:
            return self._combine(self.data_dir)
        cov_plugin = self.config.pluginmanager.get_plugin("_cov")
        controller = getattr(cov_plugin, "cov_controller", None)
        if controller is not None and getattr(controller, "cov", None) is not None:
            # pytest-cov has stopped and combined by now (its runtestloop wrapper): the combined data.
            combined: Coverage = controller.cov
            return combined
        if self.foreign is None:
            self._note("nothing measured the run (pytest-cov was disabled?): no provider coverage")
        return self.foreign

    def _combine(self, directory: Path) -> Coverage | None:
        if not any(directory.glob(".coverage.*")):
            if self.ran:
                self._note(
                    "no coverage data came back from the xdist workers (did a worker die?): no provider coverage"
                )
            return None
        cov, problems = combine(directory, self.names)
        for problem in problems:
            self._note(problem)
        return cov

    def _providers(self, data: CoverageData) -> list[str]:
        providers = [p for p, _ in sorted(self.ran)]
        for context in data.measured_contexts():
            key = self._rule_of(context)
            if key is not None:
                providers.append(key[0])
        return list(dict.fromkeys(sorted(providers)))

    def _rule_of(self, context: str) -> tuple[str, str] | None:
        """The (provider, rule) of a context: the kit's ``RULE[provider]``, or pytest-cov's ``<nodeid>|<phase>``."""
        if context not in self._rule_memo:
            match = _LABEL.search(context)
            nodeid, sep, _phase = context.rpartition("|")
            self._rule_memo[context] = (
                (match.group(2), match.group(1)) if match else self.tests.get(nodeid) if sep else None
            )
        return self._rule_memo[context]

    def _fold(self, cov: Coverage) -> Measurement:
        data = cov.get_data()
        providers = self._providers(data)
        if not providers:
            return Measurement()
        names = set(data.measured_files())
        measured = {_resolve(name): name for name in names}
        scope: list[Package] | None = self.packages
        note = None
        if not self.kit_measures:
            scope = [p for p in self.packages if any(p.owns(path) for path in measured)]
            missing = [p.name for p in self.packages if p not in scope]
            if missing:
                note = (
                    f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not among the sources "
                    f"{self.measured_by} measures ({_sources_of(cov)}): "
                )
                note += "left out" if scope else "provider coverage is reported for the sources it measures instead"
            # Not the package asked for: what the run does measure, from the directory holding each source.
            scope = scope or _source_packages(cov) or None
        if not any(self._rule_of(c) for c in data.measured_contexts()):
            if not self.switching:
                why = "the running coverage records its own dynamic contexts (or none, core=sysmon)"
            elif not self.kit_measures and _distributed(self.config) and self.measured_by != "pytest-cov":
                why = "the running coverage does not measure the xdist workers (use pytest-cov, or run serially)"
            else:
                why = "no test of a rule ran code of the measured sources"
            note = f"{note}; no per-rule lines: {why}" if note else f"no per-rule lines: {why}"
        files: dict[Path, tuple[str, str]] = {}  # path → (its name in the data, relative name)
        if scope is not None:
            for package in scope:
                for path in package.files():
                    files[path] = (measured.get(path, str(path)), package.relative(path))
                for path, name in measured.items():
                    if package.owns(path):
                        files[path] = (name, package.relative(path))
            packages = [p.name for p in scope]
        else:
            cwd = Path.cwd()
            for path, name in measured.items():
                files[path] = (name, path.relative_to(cwd).as_posix() if cwd in path.parents else path.as_posix())
            packages = ["every measured file"]
        folded = [
            f
            for f in (self._file(cov, data, names, name, rel, path) for path, (name, rel) in sorted(files.items()))
            if f
        ]
        self._html_files = [f.name for f in folded]
        # What went wrong on the way (data left out, files not analysed) belongs in the section too.
        note = "; ".join(n for n in [note, *self.notes] if n) or None
        result = Measurement()
        for provider in providers:
            section, result.rule_lines[provider] = self._section(provider, folded, note)
            section["packages"] = packages
            result.sections[provider] = section
            result.labels[provider] = ", ".join(packages)
        return result

    def _file(
        self, cov: Coverage, data: CoverageData, names: set[str], name: str, relative: str, path: Path
    ) -> _File | None:
        try:
            statements = frozenset(cov.analysis2(name)[1])
        except Exception as exc:  # not Python, vanished: nothing to count
            self.notes.append(f"{relative}: not analysed ({type(exc).__name__}: {exc})")
            return None
        definitions = definition_lines(path) & statements
        by_rule: dict[tuple[str, str], set[int]] = defaultdict(set)
        ran: set[int] = set()
        for line, contexts in (data.contexts_by_lineno(name) if name in names else {}).items():
            ran.add(line)
            if line in definitions or line not in statements:
                continue
            for context in contexts:
                key = self._rule_of(context)
                if key is not None:
                    by_rule[key].add(line)
        ran_definitions = definitions & ran
        # A module imported before measurement started ran its definitions unseen.
        reached_definitions = ran_definitions if ran_definitions or not ran else definitions
        return _File(name, relative, statements, definitions, frozenset(reached_definitions), dict(by_rule))

    def _section(
        self, provider: str, files: list[_File], note: str | None
    ) -> tuple[dict[str, Any], dict[str, dict[str, list[int]]]]:
        rules = sorted(
            {r for p, r in self.ran if p == provider} | {r for f in files for p, r in f.by_rule if p == provider},
            key=_rule_order,
        )
        reached: dict[str, set[int]] = {}
        rule_lines: dict[str, dict[str, list[int]]] = {r: {} for r in rules}
        for f in files:
            lines = set(f.reached_definitions)
            for rule in rules:
                mine = f.by_rule.get((provider, rule), set())
                if mine:
                    rule_lines[rule][f.relative] = sorted(mine)
                lines |= mine
            reached[f.relative] = lines
        statements = sum(len(f.statements) for f in files)
        total = sum(len(reached[f.relative]) for f in files)
        contracts: dict[str, dict[str, Any]] = {}
        by_contract: dict[str, list[str]] = defaultdict(list)
        for rule in rules:
            by_contract[RULES[rule].contract if rule in RULES else "other"].append(rule)
        for contract, its_rules in by_contract.items():
            touched = [f for f in files if any(f.by_rule.get((provider, r)) for r in its_rules)]
            n = sum(len(f.statements) for f in touched)
            k = sum(
                len(f.reached_definitions | set().union(*(f.by_rule.get((provider, r), set()) for r in its_rules)))
                for f in touched
            )
            contracts[contract] = {"statements": n, "reached": k, "share": _share(k, n)}
        dark = {
            f.relative: sorted(f.statements - reached[f.relative]) for f in files if f.statements - reached[f.relative]
        }
        section: dict[str, Any] = {
            "packages": [],
            "measured_by": self.measured_by,
            "note": note,
            "statements": statements,
            "reached": total,
            "share": _share(total, statements),
            "contracts": contracts,
            "rules": {r: {"lines": sum(len(v) for v in rule_lines[r].values())} for r in rules},
            "dark": dark,
            "html": str(self.html) if self.html is not None else None,
        }
        return section, rule_lines

    def _write_html(self, cov: Coverage) -> None:
        assert self.html is not None and self.result is not None
        title = f"pytest-lifecycle: {', '.join(self.names)}, one context per rule: RULE[provider]"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cov.html_report(
                    morfs=self._html_files or None,
                    directory=str(self.html),
                    show_contexts=True,
                    title=title,
                    ignore_errors=True,
                )
            except Exception as exc:
                self._note(f"--lifecycle-cov-html {self.html}: not written: {exc}")
                for section in self.result.sections.values():
                    section["html"] = None


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _rule_order(rule: str) -> tuple[int, str]:
    order = list(RULES)
    return (order.index(rule), rule) if rule in RULES else (len(order), rule)


def _percent(numbers: dict[str, Any]) -> str:
    statements = int(numbers["statements"])
    return f"{100 * int(numbers['reached']) // statements}%" if statements else "n/a"


def _resolve(name: str) -> Path:
    path = Path(name)
    return (path if path.is_absolute() else Path.cwd() / path).resolve()


def _distributed(config: pytest.Config) -> bool:
    """An xdist controller that hands the tests to workers."""
    return str(config.getoption("dist", "no")) != "no" and bool(config.getoption("tx", None))


def _supports_contexts(cov: Coverage) -> bool:
    core = getattr(cov, "_core", None)
    return bool(getattr(core, "supports_dynamic_contexts", True))


def _sources_of(cov: Coverage) -> str:
    sources = [str(s) for s in (cov.config.source or [])] + [str(s) for s in (cov.config.source_pkgs or [])]
    return ", ".join(sources) if sources else "every file it measures"


def _source_packages(cov: Coverage) -> list[Package]:
    """The ``source``/``source_pkgs`` a running Coverage measures, as packages (directories or import names)."""
    found: list[Package] = []
    for source in [*(cov.config.source or []), *(cov.config.source_pkgs or [])]:
        if os.path.isdir(source):
            found.append(Package(str(source), (Path(source).resolve(),)))
            continue
        with contextlib.suppress(pytest.UsageError):  # a source that is neither: nothing of it was measured
            found.append(find_package(str(source)))
    return found


def _warn(text: str) -> None:
    with contextlib.suppress(Warning):  # warnings turned into errors: the note in the summary says it
        warnings.warn(ProviderCoverageWarning(f"pytest-lifecycle --lifecycle-cov: {text}"), stacklevel=2)


def combine(directory: Path, names: list[str]) -> tuple[Coverage | None, list[str]]:
    """The data files of *directory* (one per xdist worker) combined, and what could not be used.

    A file that is not coverage data is left out and named; when nothing can
    be combined the Coverage is ``None``.  Never raises for bad data.
    """
    cov = _new_coverage(names, str(directory / ".coverage"), notes=[])
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            cov.combine([str(directory)], strict=True)
        except Exception as exc:
            return None, [f"the workers' coverage data could not be combined: {exc}"]
    for warning in caught:
        if "data file" in str(warning.message).lower():
            problems.append(f"some worker coverage data could not be combined: {warning.message}")
    return cov, problems


def _new_coverage(names: list[str], data_file: str | None, *, notes: list[str]) -> Coverage:
    """The kit's own Coverage: lines only, every thread, contexts switched by the kit."""
    import coverage

    kwargs: dict[str, Any] = dict(
        data_file=data_file,
        data_suffix=data_file is not None,
        source_pkgs=names,
        branch=False,
        concurrency=["thread"],
        auto_data=False,
        messages=False,
    )
    try:
        # The project's configuration still applies where it should: exclusions (``pragma: no cover``), omit.
        cov = coverage.Coverage(config_file=True, **kwargs)
    except Exception as exc:
        notes.append(f"the coverage configuration could not be read ({exc}): measured with coverage's defaults")
        cov = coverage.Coverage(config_file=False, **kwargs)
    overrides: dict[str, Any] = {
        "run:source": None,
        "run:include": None,
        "run:branch": False,
        "run:context": None,
        "run:dynamic_context": None,
        "run:parallel": False,
        "run:relative_files": False,
        "run:cover_pylib": False,
        "run:disable_warnings": [*QUIET],
        # sys.monitoring (3.12+) records no dynamic contexts: trace with the C tracer.
        "run:core": "ctrace",
        "run:patch": [],
    }
    for option, value in overrides.items():
        with contextlib.suppress(Exception):  # an option this coverage version does not have
            cov.set_option(option, value)
    return cov


# ---------------------------------------------------------------------------
# Entry points for the plugin and the publisher
# ---------------------------------------------------------------------------


def configure(config: pytest.Config) -> None:
    """From ``plugin.pytest_configure``, before providers are imported: start measuring.

    :raises pytest.UsageError: PACKAGE cannot be found, or the HTML directory cannot be made.
    """
    names = list(dict.fromkeys(config.option.lifecycle_cov or []))
    html_option = config.option.lifecycle_cov_html
    if not names:
        if html_option:
            raise pytest.UsageError(
                "--lifecycle-cov-html needs --lifecycle-cov PACKAGE (the provider's package to measure)"
            )
        return
    html = None
    if html_option and not hasattr(config, "workerinput"):
        html = Path(html_option).resolve()
        try:
            html.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise pytest.UsageError(
                f"--lifecycle-cov-html {html_option}: cannot create the directory: {exc.strerror or exc}"
            ) from None
    plugin = ProviderCoverage(config, names, html)
    plugin.start()
    config.pluginmanager.register(plugin, PLUGIN_NAME)


def measurement(config: pytest.Config) -> Measurement:
    """Everything :func:`finish` found, including each rule's lines (computed once, on the controller)."""
    plugin = config.pluginmanager.get_plugin(PLUGIN_NAME)
    if not isinstance(plugin, ProviderCoverage) or plugin.worker:
        return Measurement()
    return plugin.finish()


def finish(config: pytest.Config) -> dict[str, dict[str, Any]]:
    """Provider → coverage section; ``{}`` without ``--lifecycle-cov``.  Called at session end (idempotent)."""
    return measurement(config).sections
