"""The internals the kit borrows from pytest, Hypothesis and CPython fail clearly when they are gone.

Each is read in one module of ``pytest_lifecycle/_compat/``; on a version
without it the kit stops with a message naming its own version, the
internal and the running version — never a wrong verdict.
"""

from __future__ import annotations

import types

import pytest

from pytest_lifecycle import __version__
from pytest_lifecycle._compat import UnsupportedVersion, cpython, hypothesis_internals, pytest_internals


def test_the_message_names_the_kit_the_internal_and_the_running_version() -> None:
    error = UnsupportedVersion("pytest", "99.0", "Metafunc._arg2fixturedefs")
    assert str(error).startswith(
        f"pytest-lifecycle {__version__} relies on pytest internals (Metafunc._arg2fixturedefs), not available in pytest 99.0"
    )


def test_a_pytest_without_arg2fixturedefs_is_refused() -> None:
    metafunc = types.SimpleNamespace()
    with pytest.raises(
        UnsupportedVersion, match=rf"Metafunc._arg2fixturedefs\), not available in pytest {pytest.__version__}"
    ):
        pytest_internals.fixture_module(metafunc, "lifecycle_provider")  # type: ignore[arg-type]


def test_a_terminal_reporter_without_a_width_is_refused() -> None:
    with pytest.raises(UnsupportedVersion, match=r"TerminalReporter._tw.fullwidth"):
        pytest_internals.terminal_width(types.SimpleNamespace())  # type: ignore[arg-type]


def test_the_running_pytest_has_what_the_plugin_reads(pytestconfig: pytest.Config) -> None:
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    assert pytest_internals.terminal_width(reporter) > 0


def test_a_hypothesis_without_global_force_seed_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from hypothesis import core

    assert hypothesis_internals.drawn_seed(object()) == core.global_force_seed
    monkeypatch.delattr(core, "global_force_seed")
    with pytest.raises(UnsupportedVersion, match=r"hypothesis.core.global_force_seed\), not available in Hypothesis"):
        hypothesis_internals.drawn_seed(object())


def test_parking_needs_cpython_with_a_gil(monkeypatch: pytest.MonkeyPatch) -> None:
    cpython.check_parking_supported()  # the interpreter running these tests
    monkeypatch.setattr(cpython.sys, "_is_gil_enabled", lambda: False, raising=False)
    with pytest.raises(UnsupportedVersion, match=r"frames of blocked threads.*\(no GIL\)"):
        cpython.check_parking_supported()


def test_thread_tracing_guard_needs_threadings_trace_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(cpython.threading, "_trace_hook")
    with pytest.raises(
        UnsupportedVersion, match=r"threading._sys and threading._trace_hook\), not available in Python"
    ):
        cpython.guard_thread_tracing()
