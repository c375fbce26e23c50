"""The pytest side of ``benchmarks/teeth.py`` (loaded with ``-p teeth_plugin``).

- registers the Hypothesis profile ``teeth``: the kit's settings derive from
  the active default, and this one has no example database (a failure saved
  by one run would be replayed first by the next, making it trivial) and is
  never derandomized (so ``--hypothesis-seed`` really varies the runs);
- ``--teeth-plan FILE`` (JSON: provider name → rule IDs, or ``null`` for all
  its rules) keeps only the planned (provider, rule) tests, so each mutant
  runs only the rules it must break while correct providers run everything;
- ``--teeth-log FILE`` appends one JSON line per test report (phase,
  outcome, duration, rule, provider), in the order the controller sees them,
  and one per collection error.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import Phase, settings

settings.register_profile("teeth", parent=settings.get_profile("default"), database=None, derandomize=False)
# Time to the first failure, without shrinking it (what a kill costs; the
# shrinking a user sees afterwards only makes the report readable).
settings.register_profile(
    "teeth-noshrink",
    parent=settings.get_profile("teeth"),
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--teeth-plan", help="JSON file: provider name -> rule IDs to run (null: all)")
    parser.addoption("--teeth-log", help="append one JSON line per test report to this file")


def _props(user_properties: list[tuple[str, object]]) -> dict[str, str]:
    return {str(k): str(v) for k, v in user_properties}


@pytest.hookimpl(trylast=True)  # after the lifecycle plugin has tagged items with rule and provider
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    path = config.getoption("teeth_plan")
    if not path:
        return
    plan: dict[str, list[str] | None] = json.loads(Path(path).read_text())
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        props = _props(item.user_properties)
        provider, rule = props.get("lifecycle_provider"), props.get("lifecycle_rule")
        wanted = provider in plan and (plan[provider] is None or rule in (plan[provider] or ()))
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_configure(config: pytest.Config) -> None:
    path = config.getoption("teeth_log")
    # xdist workers forward their reports to the controller, which logs them in arrival order.
    if path and not hasattr(config, "workerinput"):
        config.pluginmanager.register(TeethLog(Path(path)), "teeth-log")


class TeethLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = _props(report.user_properties)
        line = {
            "nodeid": report.nodeid,
            "when": report.when,
            "outcome": report.outcome,
            "duration": report.duration,
            "rule": props.get("lifecycle_rule"),
            "provider": props.get("lifecycle_provider"),
            "non_strict": "lifecycle_non_strict" in props,
        }
        self.write(line)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:  # a suite that does not import measures nothing
            self.write({"collect_error": report.nodeid or "<session>", "error": report.longreprtext[-2000:]})

    def write(self, line: dict[str, object]) -> None:
        with self.path.open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")
