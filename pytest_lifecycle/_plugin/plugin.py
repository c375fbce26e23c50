"""The pytest plugin (entry point ``pytest11: lifecycle``).

Cheap by design: with no conformance test collected it only adds options
and a marker; providers are resolved lazily, and Hypothesis is imported only
by the state machines.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import math
from collections.abc import Generator
from functools import cache
from pathlib import Path
from typing import Final

import pytest

from pytest_lifecycle._compat import pytest_internals
from pytest_lifecycle._contracts import FIXTURE_MODULES
from pytest_lifecycle._core.catalogue import CONTRACTS, RULES, UnknownRuleError, rule_marker
from pytest_lifecycle._core.discovery import ENTRY_POINT_GROUP, UnknownProvider, available_entry_points, load_provider
from pytest_lifecycle._core.errors import ProviderError, RuleViolation
from pytest_lifecycle._plugin import hookspecs, provider_coverage, waivers
from pytest_lifecycle._plugin.exit_gate import Gate
from pytest_lifecycle._plugin.options import DEFAULT_TIMEOUT, add_options
from pytest_lifecycle._plugin.profiles import get_profile
from pytest_lifecycle._plugin.publish import Publisher
from pytest_lifecycle._plugin.report import LEVEL, NON_STRICT, PROVIDER_RAISED, REPLAY, LifecycleReport, print_catalogue
from pytest_lifecycle._plugin.state import CALL_FAILED, STATE_KEY, LifecycleState, state_of

pytest_plugins = ["pytest_lifecycle._plugin.fixtures", *FIXTURE_MODULES]

RULE_MARKER_HELP = (
    "rule(id, level='must'): the catalogue rule a conformance test checks, e.g. rule('LC-05'); "
    "level='should' when the test checks only the rule's SHOULD"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hookspecs)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> int | None:
    if config.option.lifecycle_rules:
        print_catalogue(config)
        return 0
    if config.option.lifecycle_providers:
        _print_providers(config)
        return 0
    return None


#: The oldest Hypothesis with ``hypothesis.stateful.get_state_machine_test``
#: (the kit's state machines need it to print the seed that replays them).
MIN_HYPOTHESIS: Final = (6, 124, 5)


def _check_hypothesis() -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("hypothesis")
    except PackageNotFoundError:
        return  # Hypothesis is a dependency; pip reports its absence
    parts = tuple(int(p) for p in found.split(".")[:3] if p.isdigit())
    if parts < MIN_HYPOTHESIS:
        need = ".".join(map(str, MIN_HYPOTHESIS))
        raise pytest.UsageError(f"pytest-lifecycle needs hypothesis>={need}, found {found}: pip install -U hypothesis")


def pytest_configure(config: pytest.Config) -> None:
    _check_hypothesis()
    config.addinivalue_line("markers", RULE_MARKER_HELP)
    specs = list(config.option.lifecycle_provider or config.getini("lifecycle_providers"))
    timeout = config.option.lifecycle_timeout
    if timeout is None:
        try:
            timeout = float(config.getini("lifecycle_timeout") or DEFAULT_TIMEOUT)
        except ValueError:
            raise pytest.UsageError(
                f"lifecycle_timeout must be a number, got {config.getini('lifecycle_timeout')!r}"
            ) from None
    if not math.isfinite(timeout) or timeout <= 0:
        raise pytest.UsageError(f"--lifecycle-timeout must be a finite number of seconds above 0, got {timeout}")
    try:
        profile = get_profile(config.option.lifecycle_profile or config.getini("lifecycle_profile"))
    except KeyError as exc:
        raise pytest.UsageError(exc.args[0]) from None
    rule_filter = list(config.option.lifecycle_rule)
    for selector in rule_filter:
        if selector not in RULES and not any(r.startswith(selector + "-") for r in RULES):
            raise pytest.UsageError(f"--lifecycle-rule {selector!r}: {UnknownRuleError(selector)}")
    strict = config.option.lifecycle_strict
    strict = bool(config.getini("lifecycle_strict") if strict is None else strict)
    state = LifecycleState(
        config, specs=specs, timeout=timeout, profile=profile, rule_filter=rule_filter, strict=strict
    )
    config.stash[STATE_KEY] = state
    # --lifecycle-cov: measuring starts before the providers import, so their import-time lines count.
    provider_coverage.configure(config)
    if specs:
        # An explicit selection is checked now, so a typo is a usage error
        # (exit code 4) that lists what is available.
        try:
            state.providers()
        except UnknownProvider as exc:
            raise pytest.UsageError(str(exc)) from None
        except ProviderError as exc:
            raise pytest.UsageError(f"cannot load lifecycle provider: {exc}") from None
    state.waivers = waivers.load(config, state)
    _check_conformance_is_ours(config)
    config.pluginmanager.register(LifecycleReport(config), "lifecycle-report")
    # After the report: the publisher builds the certificate from it.
    config.pluginmanager.register(Publisher(config), "lifecycle-publish")
    config.pluginmanager.register(Gate(config), "lifecycle-gate")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lifecycle_provider" not in metafunc.fixturenames:
        return
    # A project that overrides the fixture picks its own provider.
    defined_in = pytest_internals.fixture_module(metafunc, "lifecycle_provider")
    if defined_in is not None and not defined_in.startswith("pytest_lifecycle."):
        return
    providers = state_of(metafunc.config).providers()
    # A wire-profile test may certify other targets instead (servers by URL: --lifecycle-sse-url).
    targets = getattr(metafunc.function, "lifecycle_targets", None)
    if targets is not None:
        providers = targets(metafunc.config, providers)
    metafunc.parametrize("lifecycle_provider", providers, indirect=True, ids=[p.name for p in providers])


@cache
def _conformance_dir() -> Path | None:
    spec = importlib.util.find_spec("conformance")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _check_conformance_is_ours(config: pytest.Config) -> None:
    """``conformance`` is also the import name of another distribution: say so plainly."""
    if not any(str(arg).split(".")[0].split("::")[0] == "conformance" for arg in config.args):
        return
    found = _conformance_dir()
    init = found / "__init__.py" if found else None
    if init is None or not init.is_file() or 'SUITES_OF = "pytest-lifecycle"' not in init.read_text(encoding="utf-8"):
        where = str(found) if found else "nowhere"
        raise pytest.UsageError(
            f"the import name 'conformance' resolves to {where}, which is not pytest-lifecycle's conformance "
            "suites: another installed distribution (or a directory on sys.path) is also called 'conformance'. "
            "Uninstall it or run pytest from a directory where the name is not shadowed "
            "(check: python -c 'import conformance; print(conformance.__file__)')."
        )


_CONTRACT_FILES = frozenset(f"{name}.py" for name in CONTRACTS)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    # Conformance modules are named after their contract (so that
    # ``from conformance.session_lifecycle import *`` reads well), which
    # pytest's python_files patterns do not match: collect them here.
    if file_path.name not in _CONTRACT_FILES or file_path.parent.resolve() != _conformance_dir():
        return None
    patterns = parent.config.getini("python_files")
    if parent.session.isinitpath(file_path) or any(fnmatch.fnmatch(file_path.name, p) for p in patterns):
        return None  # pytest's own collector takes it
    return pytest.Module.from_parent(parent, path=file_path)


def _rule_id(item: pytest.Item) -> tuple[str, str] | None:
    """The rule the item cites and its level; a marker the catalogue does not know is a usage error (exit code 4)."""
    marker = item.get_closest_marker("rule")
    if marker is None:
        return None
    try:
        return rule_marker(marker.args, marker.kwargs)
    except (UnknownRuleError, ValueError) as exc:
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.rule: {exc}") from None


# First: the items carry their rule and provider before any other plugin
# deselects some (-k, -m, --deselect; the report counts those, see report.py).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = state_of(config)
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        rule, level = _rule_id(item) or (None, "must")
        if rule is not None:
            item.user_properties.append(("lifecycle_rule", rule))
            # From collection on: JUnit XML shows it on every test, also one skipped before its call.
            item.user_properties.append((LEVEL, level))
            callspec = getattr(item, "callspec", None)
            provider = callspec.params.get("lifecycle_provider") if callspec is not None else None
            if provider is not None:
                item.user_properties.append(("lifecycle_provider", provider.name))
        if not state.selects(rule):
            deselected.append(item)
        else:
            selected.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Levels and choices: what the kit saw during the test goes on the report.

    A test whose only breach is a SHOULD is reported ``non-strict``: as an
    expected failure (exit code 0) unless ``--lifecycle-strict``, and under
    its own verdict in the lifecycle report either way.  A failure that an
    unexpired waiver covers is reported ``waived`` (:func:`waivers.waive`).
    """
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    kit = getattr(item, "funcargs", {}).get("lifecycle_kit")
    if kit is None or kit.rule.id not in RULES:
        return waivers.waive(item, report)
    if report.failed:
        rule = kit.rule
        should = f"\nSHOULD: {rule.should}" if rule.should else ""
        report.sections.append(
            (
                f"rule {rule.id}",
                f"{rule.id} — {rule.text}\nMUST: {rule.must}{should}\n"
                f"(the full text: pytest-lifecycle rules {rule.id}, or {rule.where})",
            )
        )
    if report.when != "call":
        return waivers.waive(item, report)
    props: list[tuple[str, object]] = [
        (LEVEL, kit.level),
        (REPLAY, kit.replay_command()),
    ]
    props += [("lifecycle_choice", f"{c}={b}") for c, seen in sorted(kit.choices_seen.items()) for b in sorted(seen)]
    error = call.excinfo.value if call.excinfo is not None else None
    should_only = (isinstance(error, RuleViolation) and (error.level == "should" or kit.level == "should")) or (
        isinstance(error, ProviderError) and kit.level == "should"
    )
    message = None
    if report.passed and kit.should_broken:
        message = f"[{kit.rule.id}] {kit.should_broken[0]}"
    elif report.failed and should_only:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        if not message.startswith(f"[{kit.rule.id}]"):
            message = f"[{kit.rule.id}] SHOULD: {message}"
    raised = None
    if report.failed and error is not None and not isinstance(error, RuleViolation):
        raised = kit.raised_by_provider(error) or (
            f"[{kit.rule.id}] the test ended with {type(error).__name__}: {error} while driving provider "
            f"{kit.provider.name!r} after {kit.steps()}"
        )
    if raised is not None:
        # A provider exception that no check expected ended the test.
        props.append((PROVIDER_RAISED, raised))
        report.sections.append(("lifecycle verdict", raised))
    if message is not None:
        props.append((NON_STRICT, message))
        if not kit.strict:
            # An expected failure: pytest exits 0, the report says non-strict.
            report.outcome = "skipped"
            report.wasxfail = f"non-strict: {message}"
            report.longrepr = None
    for prop in props:
        if prop not in item.user_properties:
            item.user_properties.append(prop)
        if prop not in report.user_properties:
            report.user_properties.append(prop)
    return waivers.waive(item, report)


def _print_providers(config: pytest.Config) -> None:
    offered = [p for batch in config.hook.pytest_lifecycle_providers(config=config) if batch for p in batch]
    names = {"reference": "bundled reference provider"}
    names.update({name: f"entry point {ep.value}" for name, ep in available_entry_points().items()})
    names.update({p.name: "pytest_lifecycle_providers hook" for p in offered})
    by_name = {p.name: p for p in offered}
    print(f"lifecycle providers (entry-point group {ENTRY_POINT_GROUP}):")
    for name, origin in sorted(names.items()):
        try:
            p = load_provider(name, by_name)
            caps = f"; capabilities: {', '.join(sorted(p.capabilities))}" if p.capabilities else ""
            print(f"  {name:<16} {', '.join(p.factories)}{caps}  [{origin}]")
        except (ProviderError, UnknownProvider) as exc:
            print(f"  {name:<16} BROKEN: {exc}  [{origin}]")
