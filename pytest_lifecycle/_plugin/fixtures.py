"""The kit's core fixtures: the provider under test, the kit, its clock.

Contract fixtures (``session_lifecycle``, ``gated_agent``, …) live in
:mod:`pytest_lifecycle._contracts`; all of them are public, so a project can
write its own extra tests with the tools the suite uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_lifecycle._contracts import supports
from pytest_lifecycle._core.catalogue import Rule, UnknownRuleError, get_rule, rule_marker
from pytest_lifecycle._core.context import KitClock
from pytest_lifecycle._core.kit import Kit
from pytest_lifecycle._core.provider import Provider
from pytest_lifecycle._plugin.state import CALL_FAILED, state_of

#: The rule of tests that carry no ``rule`` marker (a project's own tests).
UNMARKED = "TEST"


@pytest.fixture
def lifecycle_provider(request: pytest.FixtureRequest) -> Provider:
    """The provider under test.

    Parametrized over the selected providers (the test id carries the
    provider name).  Override this fixture in a ``conftest.py`` to certify
    one provider without any option.
    """
    param = getattr(request, "param", None)
    if param is None:
        return state_of(request.config).providers()[0]
    assert isinstance(param, Provider)
    return param


def _rule_of(item: pytest.Item) -> tuple[Rule, str]:
    marker = item.get_closest_marker("rule")
    if marker is None:
        return Rule(UNMARKED, "", "required", f"{item.name} (no rule marker)"), "must"
    try:
        rule_id, level = rule_marker(marker.args, marker.kwargs)
        return get_rule(rule_id), level
    except (UnknownRuleError, ValueError) as exc:
        pytest.fail(f"{item.nodeid}: bad @pytest.mark.rule: {exc}", pytrace=False)


def _replay_target(item: pytest.Item) -> str:
    """What to pass to pytest, from the directory the run started in, to run *item* again."""
    module = getattr(item, "module", None)
    name = getattr(item, "originalname", item.name)
    if module is not None and module.__name__.split(".")[0] == "conformance":
        # The shipped suites: however they were selected (--pyargs, a path,
        # the CLI), the import name finds them from anywhere.
        return f"--pyargs {module.__name__} -k '{name}'"
    path = os.path.relpath(item.path, item.config.invocation_params.dir)
    return f"'{path}::{item.nodeid.split('::', 1)[1]}'" if "::" in item.nodeid else f"'{path}'"


@pytest.fixture
def lifecycle_kit(request: pytest.FixtureRequest, lifecycle_provider: Provider, tmp_path: Path) -> Iterator[Kit]:
    """The :class:`~pytest_lifecycle.Kit` of this test.

    Knows the test's rule (from ``@pytest.mark.rule``) and provider, skips the
    test as *not claimed* when the provider does not claim what the rule
    needs, runs provider calls with the ``--lifecycle-timeout`` deadline, and
    at teardown releases every gate and checks no provider thread is left.
    """
    if not isinstance(lifecycle_provider, Provider):
        pytest.fail(
            f"the lifecycle_provider fixture returned {type(lifecycle_provider).__qualname__}, "
            "expected pytest_lifecycle.Provider",
            pytrace=False,
        )
    state = state_of(request.config)
    rule, level = _rule_of(request.node)
    props = request.node.user_properties
    if ("lifecycle_provider", lifecycle_provider.name) not in props:
        props.append(("lifecycle_provider", lifecycle_provider.name))
    kit = Kit(
        provider=lifecycle_provider,
        rule=rule,
        timeout=state.timeout,
        directory=tmp_path,
        profile=state.profile,
        nodeid=request.node.nodeid,
        level=level,
        strict=state.strict,
        contracts=supports(),
        skip=pytest.skip,
    )
    kit.replay_target = _replay_target(request.node)
    if rule.id != UNMARKED:
        kit.require()
    yield kit
    try:
        kit.close(failed=request.node.stash.get(CALL_FAILED, False))
    finally:
        request.node.user_properties.extend(("lifecycle_abandoned", a) for a in kit.abandoned)


@pytest.fixture
def lifecycle_clock(lifecycle_kit: Kit) -> KitClock:
    """The clock the kit hands to every factory (``ctx.clock``); move it with ``advance()``."""
    return lifecycle_kit.clock
