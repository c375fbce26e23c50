"""Known deviations: waivers that keep a CI gate open, and expire.

The file (``--lifecycle-waivers PATH`` or the ``lifecycle_waivers`` ini
option) is TOML, one ``[[waiver]]`` table per known deviation::

    [[waiver]]
    rule = "LC-05"
    provider = "mine"
    reason = "tracked in #123"
    expires = 2027-01-31        # optional: a TOML date, or "2027-01-31"

A failing test of a waived (provider, rule) is reported ``waived``: pytest
counts it as an expected failure (exit code 0) and the rule's verdict is
``waived``, never ``passed``.  A waiver is valid through its expiry day
(UTC); after that it is *expired*: no longer applied, and it fails the run
(:mod:`pytest_lifecycle._plugin.exit_gate`) so a forgotten waiver cannot hide a bug for
ever.  A waiver whose rule passed is *stale*.  A file that is not valid TOML
or not this shape, or that names a rule or provider nobody knows, is a usage
error (exit code 4) on one line.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, Literal

import pytest

from pytest_lifecycle._core.catalogue import RULES, UnknownRuleError
from pytest_lifecycle._core.discovery import available_entry_points
from pytest_lifecycle._core.errors import ProviderError
from pytest_lifecycle._plugin.report import WAIVED
from pytest_lifecycle._plugin.state import LifecycleState, state_of

__all__ = ["KEYS", "Waiver", "document", "load", "status", "waive", "waiver_for"]

#: The keys of a ``[[waiver]]`` table (``expires`` is optional).
KEYS: Final = ("rule", "provider", "reason", "expires")
#: The prefix of ``wasxfail`` on a report whose failure a waiver covers.
WAIVED_PREFIX: Final = "waived: "

Status = Literal["applied", "stale", "expired", "unused"]


@dataclass(frozen=True)
class Waiver:
    """One known deviation of one provider from one rule."""

    rule: str
    provider: str
    reason: str
    expires: date | None
    #: Past its expiry day (UTC) when the run started: not applied.
    expired: bool
    #: Where it was declared, for messages: ``waivers.toml, waiver 2``.
    where: str

    def describe(self) -> str:
        until = f", expires {self.expires.isoformat()}" if self.expires else ""
        return f"{self.rule} for provider {self.provider!r} ({self.reason}{until}; {self.where})"

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "provider": self.provider,
            "reason": self.reason,
            "expires": self.expires.isoformat() if self.expires else None,
        }


class _Bad(Exception):
    """One thing wrong with the file (turned into a one-line usage error)."""


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def _source(config: pytest.Config) -> tuple[Path, str] | None:
    """The waivers file and how it was named, or ``None``."""
    given = config.option.lifecycle_waivers
    if given:
        return Path(config.invocation_params.dir, given), f"--lifecycle-waivers {given}"
    ini = str(config.getini("lifecycle_waivers") or "").strip()
    if not ini:
        return None
    # As other path options of an ini file: relative to the file itself.
    base = config.inipath.parent if config.inipath else config.rootpath
    return base / ini, f"lifecycle_waivers = {ini} (in {config.inipath or config.rootpath})"


def _known_providers(config: pytest.Config, state: LifecycleState) -> set[str]:
    names = {"reference", *available_entry_points()}
    names.update(name for name, _url in (config.getoption("lifecycle_sse_url", None) or []))
    try:
        names.update(p.name for p in state.providers())
        names.update(p.name for p in state.offered)
    except (ProviderError, LookupError):
        pass  # the selection itself is broken: that error comes with the run
    return names


def _expiry(value: object) -> date:
    # tomllib reads a bare 2027-01-31 as a date, and a datetime (a subclass
    # of date) for 2027-01-31T00:00: only whole days are meant.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _Bad(f'expires must be a date such as 2027-01-31 (or "2027-01-31"), got {value!r}')


def _parse(entry: object, known: set[str], today: date, where: str) -> Waiver:
    if not isinstance(entry, dict):
        raise _Bad("each [[waiver]] must be a table")
    unknown = sorted(set(entry) - set(KEYS))
    if unknown:
        raise _Bad(f"unknown key {unknown[0]!r} (a waiver has {', '.join(KEYS)})")
    for key in ("rule", "provider", "reason"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _Bad(f"{key} must be a non-empty string, got {value!r}")
    rule, provider, reason = entry["rule"].strip(), entry["provider"].strip(), entry["reason"].strip()
    if rule not in RULES:
        raise _Bad(_one_line(str(UnknownRuleError(rule))))
    if provider not in known:
        raise _Bad(f"unknown provider {provider!r}; available providers: {', '.join(sorted(known))}")
    expires = _expiry(entry["expires"]) if "expires" in entry else None
    return Waiver(rule, provider, reason, expires, expired=expires is not None and expires < today, where=where)


def load(config: pytest.Config, state: LifecycleState) -> tuple[Waiver, ...]:
    """The waivers the run uses (none without the option).

    :raises pytest.UsageError: unreadable, not TOML, not the shape above, an
        unknown rule or provider, a bad date, or one (provider, rule) twice.
    """
    source = _source(config)
    if source is None:
        return ()
    path, named = source
    try:
        with path.open("rb") as f:
            doc = tomllib.load(f)
    except OSError as exc:
        raise pytest.UsageError(f"{named}: cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise pytest.UsageError(f"{named}: not valid TOML: {_one_line(str(exc))}") from None
    try:
        extra = sorted(set(doc) - {"waiver"})
        if extra:
            raise _Bad(f"unknown top-level key {extra[0]!r} (the file holds [[waiver]] tables only)")
        entries = doc.get("waiver", [])
        if not isinstance(entries, list):
            raise _Bad("'waiver' must be an array of tables: write each as [[waiver]]")
    except _Bad as exc:
        raise pytest.UsageError(f"{named}: {exc}") from None
    known = _known_providers(config, state)
    today = datetime.now(UTC).date()
    waivers: dict[tuple[str, str], Waiver] = {}
    for n, entry in enumerate(entries, start=1):
        where = f"{path.name}, waiver {n}"
        try:
            waiver = _parse(entry, known, today, where)
            twice = waivers.get((waiver.provider, waiver.rule))
            if twice is not None:
                raise _Bad(f"{waiver.rule} for provider {waiver.provider!r} is waived twice ({twice.where})")
        except _Bad as exc:
            raise pytest.UsageError(f"{named}: waiver {n}: {exc}") from None
        waivers[(waiver.provider, waiver.rule)] = waiver
    return tuple(waivers.values())


def waiver_for(config: pytest.Config, provider: str, rule: str) -> Waiver | None:
    """The waiver of (*provider*, *rule*), expired or not."""
    return next((w for w in state_of(config).waivers if (w.provider, w.rule) == (provider, rule)), None)


def waive(item: pytest.Item, report: pytest.TestReport) -> pytest.TestReport:
    """A failure (call, setup or teardown) that an unexpired waiver covers becomes ``waived``.

    Reported as an expected failure, so pytest exits 0; the trace stays on
    the report (the certificate shows it as the witness).
    """
    if not report.failed:
        return report
    props = {str(k): str(v) for k, v in item.user_properties}
    provider, rule = props.get("lifecycle_provider"), props.get("lifecycle_rule")
    if provider is None or rule is None:
        return report
    waiver = waiver_for(item.config, provider, rule)
    if waiver is None or waiver.expired:
        return report
    report.outcome = "skipped"
    report.wasxfail = WAIVED_PREFIX + waiver.reason
    prop = (WAIVED, waiver.reason)
    for props_list in (item.user_properties, report.user_properties):
        if prop not in props_list:
            props_list.append(prop)
    return report


def status(waiver: Waiver, verdicts: dict[str, dict[str, str]]) -> Status:
    """What the run made of *waiver*, from the rule verdicts.

    ``expired`` whatever the verdict; ``applied`` when it covered a failure
    (verdict ``waived``); ``stale`` when the rule passed; ``unused`` when the
    rule did not run for that provider, or ran without failing a MUST nor
    fully passing (not claimed, skipped, incomplete, non-strict).
    """
    if waiver.expired:
        return "expired"
    verdict = verdicts.get(waiver.provider, {}).get(waiver.rule)
    if verdict == "waived":
        return "applied"
    if verdict == "passed":
        return "stale"
    return "unused"


def document(config: pytest.Config, verdicts: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Each waiver with its status, in file order (the certificate's ``waivers``)."""
    return [{**w.as_json(), "status": status(w, verdicts)} for w in state_of(config).waivers]
