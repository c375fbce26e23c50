"""Only the provider is measured: the churn checks (LC-16, RS-07, LK-07) and what the harness keeps.

pytest's log capture keeps every record a provider logs, and its stderr
capture keeps what ``logging.lastResort`` prints when no handler is
installed; the kit keeps its own records.  None of that may count as the
provider's growth -- while a record the provider keeps itself, or any
other object it keeps, still does.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from pytest_lifecycle._probes.leaks import HARNESS_PACKAGES, provider_growth
from pytest_lifecycle._probes.stress import History
from tests.alternates.respawn.logging_event_chain import EventChainRespawner

ROOT = Path(__file__).resolve().parents[1]
KEYS = 10_000
LOGGING_RESPAWNER = "tests.alternates.respawn.logging_event_chain:provider"

provider_log = logging.getLogger("tests.test_leaks.provider")


def _log_every_failure() -> None:
    """What a provider that logs each failed start does, 10 000 times (with a traceback every 7th)."""
    for i in range(KEYS):
        error = RuntimeError(f"start of bundle-{i} refused")
        if i % 7:
            provider_log.warning("respawn of %r in %r failed: %s", f"bundle-{i}", f"ws-{i % 4}", error)
            continue
        try:
            raise error
        except RuntimeError:
            provider_log.exception("respawn of %r in %r failed", f"bundle-{i}", f"ws-{i % 4}")


@pytest.mark.parametrize("level", [logging.WARNING, logging.DEBUG], ids=["default-level", "debug-level"])
def test_records_the_log_capture_keeps_are_not_the_providers(caplog: pytest.LogCaptureFixture, level: int) -> None:
    caplog.set_level(level)
    _, growth = provider_growth(_log_every_failure, keys=KEYS)
    assert not growth.leaked, growth.problem("logging 10 000 warnings")
    assert growth.records == KEYS
    assert growth.first_record.startswith("ERROR tests.test_leaks.provider: respawn of 'bundle-0'")
    assert not [r for r in caplog.records if r.name == provider_log.name], (
        "records were captured during the measurement"
    )
    summaries = [r.getMessage() for r in caplog.records if r.name == "pytest_lifecycle._probes.leaks"]
    assert [f"{KEYS} log records" in m for m in summaries] == ([True] if level <= logging.INFO else [])


def test_the_capture_gets_records_again_afterwards(caplog: pytest.LogCaptureFixture) -> None:
    provider_growth(_log_every_failure, keys=KEYS)
    provider_log.warning("after the measurement")
    assert [r.getMessage() for r in caplog.records if r.name == provider_log.name] == ["after the measurement"]
    assert logging.lastResort is None or not logging.lastResort.filters
    assert not any(h.filters for h in logging.getLogger().handlers)


class _KeepEveryRecord(logging.Handler):
    """A provider's own handler that never forgets: its records are the provider's memory."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_records_the_provider_keeps_are_its_own(caplog: pytest.LogCaptureFixture) -> None:
    own = _KeepEveryRecord()
    provider_log.addHandler(own)
    try:
        _, growth = provider_growth(_log_every_failure, keys=KEYS)
    finally:
        provider_log.removeHandler(own)
    assert len(own.records) == KEYS
    assert growth.leaked, f"a provider keeping {KEYS} records was not found leaking: {growth}"


def test_a_plain_leak_is_still_found() -> None:
    kept: list[tuple[str, int]] = []
    _, growth = provider_growth(lambda: kept.extend((f"session-{i}", i) for i in range(KEYS)), keys=KEYS)
    assert growth.leaked, f"{KEYS} kept tuples were not found leaking: {growth}"


def test_what_the_kit_keeps_is_not_the_providers() -> None:
    assert "pytest_lifecycle" in HARNESS_PACKAGES
    history = History()

    def record() -> None:
        for _ in range(KEYS):
            history.enter("section", "actor")

    _, growth = provider_growth(record, keys=KEYS)
    assert len(history) == KEYS
    assert not growth.leaked, growth.problem("recording 10 000 kit events")


def test_the_logging_respawner_logs_every_failure(caplog: pytest.LogCaptureFixture) -> None:
    def fail_to_start(key: tuple[str, str]) -> None:
        raise RuntimeError(f"cannot start {key}")

    manager = EventChainRespawner(lambda key: None, fail_to_start)
    manager.install("db", "ws", protected=False)
    manager.install("vault", "ws", protected=True)
    assert not manager.respawn("db", "ws").ok
    assert not manager.respawn("vault", "ws").ok
    assert not manager.respawn("ghost", "ws").ok
    assert [r.levelname for r in caplog.records] == ["WARNING"] * 3


@pytest.mark.parametrize(
    ("options", "subprocess"),
    [
        pytest.param((), False, id="log-capture"),
        pytest.param(("--log-level=DEBUG",), False, id="log-level-debug"),
        pytest.param(("-p", "no:logging"), True, id="no-logging-plugin"),
        pytest.param(("-p", "no:logging", "--capture=sys"), True, id="last-resort-into-sys-capture"),
    ],
)
def test_a_respawn_manager_that_logs_every_failure_passes_the_rs07_churn(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, options: tuple[str, ...], subprocess: bool
) -> None:
    """RS-07's churn fails a start in seven and refuses one key in five: each is a warning, none is a leak.

    Without pytest's logging plugin the records go to ``logging.lastResort``,
    hence to stderr and its capture; that needs a fresh process.
    """
    report = pytester.path / "report.json"
    args = (
        "--pyargs",
        "conformance.respawn",
        "--lifecycle-provider",
        LOGGING_RESPAWNER,
        "--lifecycle-rule",
        "RS-07",
        "-k",  # the test that measures memory (RS-07's other tests count entries)
        "churn",
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
        *options,
    )
    if subprocess:
        monkeypatch.setenv("PYTHONPATH", str(ROOT))
        result = pytester.runpytest_subprocess(*args)
    else:
        result = pytester.runpytest_inprocess(*args)
    assert report.exists(), result.stdout.str()
    (verdicts,) = json.loads(report.read_text())["providers"].values()
    (churn,) = verdicts["RS-07"]["tests"]
    assert churn["outcome"] == "passed", f"{verdicts['RS-07']}\n{result.stdout.str()[-3000:]}"
    # Its other tests were deselected: the rule reads incomplete, never passed.
    assert verdicts["RS-07"]["verdict"] == "incomplete", verdicts["RS-07"]
