"""Command-line and ini options, in the ``lifecycle`` group."""

from __future__ import annotations

import argparse
from typing import Final

import pytest

__all__ = ["add_options"]

PROVIDER_HELP: Final = (
    "provider to certify: an entry-point name (group pytest_lifecycle.providers), a name offered "
    "by the pytest_lifecycle_providers hook, or package.module:attribute; repeat to certify several "
    "(default: the bundled reference)"
)
TIMEOUT_HELP: Final = "seconds a provider call may take before it counts as hung (default: 5)"
PROFILE_HELP: Final = (
    "how hard to try: 'ci' (default, fast), 'thorough', 'quick' (a smoke run, not for certification), "
    "or the name of a registered Hypothesis profile"
)
RULE_HELP: Final = "run only the tests of these rules: an id (LC-05) or a prefix (LC); repeatable"
REPORT_HELP: Final = "write the provider x rule verdicts as JSON to this path"
STRICT_HELP: Final = "a broken SHOULD fails the run (default: reported as non-strict, exit code 0)"
SSE_URL_HELP: Final = (
    "certify the SSE server at URL on the sse wire profile (the SSE-xx rules of event_streams), reported as "
    "provider NAME; repeatable (default: the selected providers' streams, served by the reference SSE server)"
)
CERTIFICATE_HELP: Final = (
    "write the certificate (schema-versioned JSON: what was certified, verdicts, witnesses) to this path"
)
WAIVERS_HELP: Final = (
    "known deviations (TOML: rule, provider, reason, optional expiry date): a waived failure is reported "
    "'waived' and does not fail the run; an expired waiver does"
)
MARKDOWN_HELP: Final = "write the provider x rule matrix as Markdown to this path"
HTML_HELP: Final = "write a self-contained HTML report (matrix, failures, choices, coverage) to this path"
COV_HELP: Final = (
    "measure which lines of the provider's PACKAGE each rule runs (coverage.py dynamic contexts); repeatable"
)
COV_HTML_HELP: Final = "with --lifecycle-cov: write coverage.py's HTML report, one context per rule, to this directory"
DEFAULT_TIMEOUT: Final = 5.0


def sse_target(value: str) -> tuple[str, str]:
    """``NAME=URL`` of ``--lifecycle-sse-url``: the name reports show, and the server's base URL."""
    name, sep, url = value.partition("=")
    if not sep or not name.strip() or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected NAME=URL with an http:// or https:// URL, got {value!r}")
    return name.strip(), url.rstrip("/")


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("lifecycle", "pytest-lifecycle conformance kit")
    group.addoption("--lifecycle-provider", action="append", default=[], metavar="NAME", help=PROVIDER_HELP)
    group.addoption("--lifecycle-timeout", type=float, default=None, metavar="SECONDS", help=TIMEOUT_HELP)
    group.addoption("--lifecycle-profile", default=None, metavar="NAME", help=PROFILE_HELP)
    group.addoption("--lifecycle-rule", action="append", default=[], metavar="ID", help=RULE_HELP)
    group.addoption("--lifecycle-report", default=None, metavar="PATH", help=REPORT_HELP)
    group.addoption("--lifecycle-strict", action="store_true", default=None, help=STRICT_HELP)
    group.addoption("--lifecycle-rules", action="store_true", help="print the rule catalogue and exit")
    group.addoption("--lifecycle-providers", action="store_true", help="list the available providers and exit")
    group.addoption(
        "--lifecycle-sse-url", action="append", default=[], type=sse_target, metavar="NAME=URL", help=SSE_URL_HELP
    )
    group.addoption("--lifecycle-certificate", default=None, metavar="PATH", help=CERTIFICATE_HELP)
    group.addoption("--lifecycle-waivers", default=None, metavar="PATH", help=WAIVERS_HELP)
    group.addoption("--lifecycle-markdown", default=None, metavar="PATH", help=MARKDOWN_HELP)
    group.addoption("--lifecycle-html", default=None, metavar="PATH", help=HTML_HELP)
    group.addoption("--lifecycle-cov", action="append", default=[], metavar="PACKAGE", help=COV_HELP)
    group.addoption("--lifecycle-cov-html", default=None, metavar="DIR", help=COV_HTML_HELP)
    parser.addini("lifecycle_waivers", WAIVERS_HELP, default="")
    parser.addini("lifecycle_providers", PROVIDER_HELP, type="linelist", default=[])
    parser.addini("lifecycle_timeout", TIMEOUT_HELP, default=str(DEFAULT_TIMEOUT))
    parser.addini("lifecycle_profile", PROFILE_HELP, default="ci")
    parser.addini("lifecycle_strict", STRICT_HELP, type="bool", default=False)
