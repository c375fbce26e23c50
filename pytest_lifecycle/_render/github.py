"""GitHub Actions: the step summary and annotations of a certificate.

When ``GITHUB_STEP_SUMMARY`` names a file, the Markdown of the certificate
is appended to it (GitHub shows it on the run's summary page).  When
``GITHUB_ACTIONS`` is ``true``, each failed rule is printed as an error
annotation and each non-strict or waived rule as a warning, as workflow
commands on standard output::

    ::error title=LC-05 (mine)::[LC-05] has_uncommitted_work('s'): expected True …

Incomplete and skipped rules are warnings too (they keep a provider from
being certified), expired waivers errors and stale ones warnings (they fail
or warn the gate).  Values are escaped as the workflow-command syntax
requires.  GitHub refuses a step summary over 1 MiB: traces are cut, then
left out, to stay under it (the certificate has them whole).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any, Final, TextIO

from pytest_lifecycle._render import Certificate, failures, markdown, provider_names, rule_ids

__all__ = ["SUMMARY_LIMIT", "commands", "escape_data", "escape_property", "publish", "summary"]

#: The largest step summary GitHub accepts, in bytes.
SUMMARY_LIMIT: Final = 1024 * 1024
#: Verdicts that keep a provider from being certified without a failing test.
UNPROVEN: Final = ("incomplete", "skipped")


def escape_data(value: str) -> str:
    """A workflow command's message: ``%``, CR and LF escaped."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A workflow command's property (``title=…``): also ``:`` and ``,`` escaped."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, title: str, message: str) -> str:
    return f"::{kind} title={escape_property(title)}::{escape_data(message)}"


def commands(cert: Certificate) -> Iterator[str]:
    """The workflow commands for *cert*: an error per failed rule, a warning per non-strict or waived one."""
    for f in failures(cert):
        kind = "error" if f.verdict == "failed" else "warning"
        message = f.message if f.verdict != "waived" else f"waived ({f.waiver or 'no reason'}): {f.message}"
        if f.verdict == "non-strict" and not message.startswith("non-strict"):
            message = f"non-strict (a SHOULD is broken, every MUST holds): {message}"
        if f.replay:
            message += f"\nreplay: {f.replay}"
        if f.more:
            message += (
                f"\n({f.more} more {'test' if f.more == 1 else 'tests'} of the rule did not pass: see the certificate)"
            )
        yield _command(kind, f"{f.rule} ({f.provider})", message)
    for name in provider_names(cert):
        rules = cert["providers"][name].get("rules") or {}
        for rule in rule_ids(cert):
            entry = rules.get(rule) or {}
            if entry.get("verdict") in UNPROVEN:
                why = f": {entry['message']}" if entry.get("message") else ""
                yield _command(
                    "warning", f"{rule} ({name})", f"{entry['verdict']}: a skipped test never counts as passed{why}"
                )
    for w in cert.get("waivers") or []:
        status = w.get("status")
        if status in ("expired", "stale"):
            kind = "error" if status == "expired" else "warning"
            what = (
                f"the waiver expired on {w.get('expires')}"
                if status == "expired"
                else "the waived rule now passes: remove the waiver"
            )
            yield _command(
                kind, f"waiver {w.get('rule')} ({w.get('provider')})", f"{what} (reason: {w.get('reason', '')})"
            )


def summary(cert: Certificate) -> str:
    """The Markdown for the step summary: whole if it fits GitHub's limit, else with shorter traces or none."""
    text = markdown.render(cert) + "\n"
    for max_trace in (2_000, 0):
        if len(text.encode("utf-8")) < SUMMARY_LIMIT:
            break
        text = markdown.render(cert, max_trace=max_trace) + "\n"
    return text


def _stream(config: Any) -> TextIO | None:
    """Where workflow commands go: pytest's terminal (standard output), else ``sys.stdout``."""
    reporter = config.pluginmanager.get_plugin("terminalreporter") if config is not None else None
    return None if reporter is not None else sys.stdout


def publish(
    cert: Certificate, config: Any = None, *, environ: Mapping[str, str] | None = None, stream: TextIO | None = None
) -> None:
    """Publish *cert* to GitHub Actions, if running there (see the module docstring).

    *config* (the pytest config, or ``None``) gives the terminal to print the
    annotations on; *environ* and *stream* default to the process's.

    :raises OSError: the step summary file cannot be appended to.
    """
    env = os.environ if environ is None else environ
    path = env.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(summary(cert))
    if env.get("GITHUB_ACTIONS") != "true":
        return
    lines = list(commands(cert))
    out = stream if stream is not None else _stream(config)
    if out is not None:
        out.write("".join(line + "\n" for line in lines))
        out.flush()
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        reporter.write_line(line)
