"""Publishing the run: the certificate, Markdown, HTML and GitHub Actions output.

The :class:`Publisher` (registered next to the report) builds the
certificate once, when the session finishes, and hands it to each writer:

- ``--lifecycle-certificate PATH``: the certificate as JSON;
- ``--lifecycle-markdown PATH``: :func:`render.markdown.render`;
- ``--lifecycle-html PATH``: :func:`render.html.render`;
- under GitHub Actions: :func:`render.github.publish` (step summary, annotations).

A certificate is also written when the run starts, saying ``not
certified`` with ``run.complete: false``: a run that dies leaves a document
that certifies nothing rather than none (``pytest-lifecycle certify``
rewrites it from the incremental report).  A path that cannot be written is
a one-line error naming the option, and the run's exit status becomes 4.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Callable, Generator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pytest

from pytest_lifecycle._plugin import certificate

__all__ = ["Publisher", "write_certificate"]

#: Option (dest) → what it writes, for the messages.
_OPTIONS: Final = {
    "lifecycle_certificate": "--lifecycle-certificate",
    "lifecycle_markdown": "--lifecycle-markdown",
    "lifecycle_html": "--lifecycle-html",
}


class PublishError(Exception):
    """A writer that could not write (the message is one line)."""


def _write(option: str, path: str, text: str) -> None:
    """Write *text* to *path* atomically (a reader never sees half a file)."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise PublishError(f"{option} {path}: cannot write: {exc.strerror or exc}") from None


def write_certificate(path: str, cert: Mapping[str, Any]) -> None:
    """Write *cert* as the certificate JSON (sorted keys, two-space indent).

    :raises PublishError: *path* cannot be written.
    """
    _write("--lifecycle-certificate", path, json.dumps(cert, indent=2, sort_keys=True) + "\n")


def _part(module: str, function: str) -> Callable[..., Any] | None:
    """``pytest_lifecycle.<module>.<function>``, or ``None`` when this installation has no such part."""
    name = f"pytest_lifecycle.{module}"
    try:
        if importlib.util.find_spec(name) is None:
            return None
    except ImportError:  # its package is missing
        return None
    found: Callable[..., Any] | None = getattr(importlib.import_module(name), function, None)
    return found


def _renderer(module: str, function: str) -> Callable[..., Any] | None:
    return _part(f"_render.{module}", function)


class Publisher:
    """Builds the certificate at the end of the session and writes every output asked for."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _paths(self) -> dict[str, str]:
        return {dest: str(value) for dest in _OPTIONS if (value := getattr(self.config.option, dest, None))}

    @pytest.hookimpl
    def pytest_configure(self, config: pytest.Config) -> None:
        # Called when the plugin registers (pytest_configure is historic).
        if hasattr(config, "workerinput"):
            return
        config.stash[certificate.STARTED] = datetime.now(UTC)
        paths = self._paths()
        for dest, path in paths.items():
            problem = _unwritable(path)
            if problem:
                raise pytest.UsageError(f"{_OPTIONS[dest]} {path}: cannot write: {problem}")
        try:
            self._write_unfinished(resolve=False)
        except PublishError as exc:
            raise pytest.UsageError(str(exc)) from None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        # Again once collected (before any test, also under xdist): now it names the providers.
        if not hasattr(self.config, "workerinput"):
            with contextlib.suppress(PublishError):  # the end of the session says so
                self._write_unfinished(resolve=True)
        return (yield)

    def _write_unfinished(self, *, resolve: bool) -> None:
        path = self._paths().get("lifecycle_certificate")
        report = self.config.pluginmanager.get_plugin("lifecycle-report")
        if path is not None and report is not None:
            write_certificate(
                path, certificate.build(self.config, report, complete=False, exitstatus=None, resolve=resolve)
            )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        config = self.config
        if hasattr(config, "workerinput"):
            return
        report = config.pluginmanager.get_plugin("lifecycle-report")
        coverage = _call("_plugin.provider_coverage", "finish", config) or {}
        paths = self._paths()
        github = _renderer("github", "publish")
        in_ci = bool(os.environ.get("GITHUB_STEP_SUMMARY")) or os.environ.get("GITHUB_ACTIONS") == "true"
        ran = bool(report is not None and report.providers)
        if report is None or not (paths or (in_ci and ran and github is not None)):
            return
        verdicts = report.verdicts()
        waivers = _call("_plugin.waivers", "document", config, verdicts)
        # Interrupted or an internal error: the verdicts so far are not the run's.
        complete = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)
        cert = certificate.build(
            config, report, complete=complete, exitstatus=int(session.exitstatus), coverage=coverage, waivers=waivers
        )
        failed = False
        for dest, path in paths.items():
            try:
                self._publish(dest, path, cert)
            except PublishError as exc:
                print(f"pytest-lifecycle: {exc}", file=sys.stderr)
                failed = True
        if in_ci and ran and github is not None:
            github(cert, config)
        if failed:
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    @staticmethod
    def _publish(dest: str, path: str, cert: Mapping[str, Any]) -> None:
        if dest == "lifecycle_certificate":
            write_certificate(path, cert)
            return
        module = "markdown" if dest == "lifecycle_markdown" else "html"
        render = _renderer(module, "render")
        if render is None:
            raise PublishError(f"{_OPTIONS[dest]} {path}: this installation has no {module} renderer")
        _write(_OPTIONS[dest], path, render(cert))


def _call(module: str, function: str, *args: Any) -> Any:
    """``pytest_lifecycle.<module>.<function>(*args)`` if that part of the kit exists, else ``None``."""
    target = _part(module, function)
    return None if target is None else target(*args)


def _unwritable(path: str) -> str | None:
    """Why *path* could not be written, or ``None`` (checked before the run, without creating it)."""
    target = Path(path)
    if target.is_dir():
        return "it is a directory"
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        return f"no directory {str(parent)!r}"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"the directory {str(parent)!r} is not writable"
    return None
