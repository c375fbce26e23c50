"""The certificate in formats people and CI systems read.

Every renderer is a pure function of the certificate dict (the document
``--lifecycle-certificate`` writes, see ``pytest_lifecycle/_plugin/certificate.py``):

- :func:`pytest_lifecycle._render.markdown.render` — the provider × rule
  matrix as Markdown (``--lifecycle-markdown``, the GitHub step summary);
- :func:`pytest_lifecycle._render.html.render` — one self-contained HTML page
  (``--lifecycle-html``);
- :func:`pytest_lifecycle._render.badge.render` — an SVG badge
  (``pytest-lifecycle badge``);
- :func:`pytest_lifecycle._render.github.publish` — the step summary and the
  workflow-command annotations under GitHub Actions.

This module holds what they share: the order of rules and the failures.
They read the certificate only through ``.get`` with defaults, so a
certificate from another kit version renders too.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from pytest_lifecycle._core.catalogue import CONTRACTS, RULES

__all__ = [
    "CERTIFIED",
    "NON_STRICT",
    "NOT_CERTIFIED",
    "NOT_RUN",
    "PROBLEMS",
    "Certificate",
    "Failure",
    "contract_names",
    "failures",
    "percent",
    "provider_names",
    "rule_ids",
    "rules_by_contract",
    "run_facts",
    "slug",
    "summary",
]

Certificate = Mapping[str, Any]

CERTIFIED: Final = "certified"
NON_STRICT: Final = "certified (non-strict)"
NOT_CERTIFIED: Final = "not certified"
#: The cell of a rule that a provider has no verdict for (another provider ran it).
NOT_RUN: Final = "not run"
#: The rule verdicts that get a witness: each is listed with its message and trace.
PROBLEMS: Final = ("failed", "waived", "non-strict")

_RULE_ORDER: Final = {rule_id: n for n, rule_id in enumerate(RULES)}
_CONTRACT_ORDER: Final = {name: n for n, name in enumerate(CONTRACTS)}


def slug(verdict: str) -> str:
    """A CSS-class-safe name of a verdict: ``certified (non-strict)`` → ``certified-non-strict``."""
    return "-".join("".join(c if c.isalnum() else " " for c in verdict.lower()).split()) or "none"


def provider_names(cert: Certificate) -> list[str]:
    """The providers of *cert*, by name (the certificate's JSON sorts its keys: any order renders the same)."""
    return sorted(cert.get("providers") or {})


def rule_ids(cert: Certificate) -> list[str]:
    """Every rule some provider of *cert* has a verdict for, in catalogue order."""
    seen = {rule for p in (cert.get("providers") or {}).values() for rule in (p.get("rules") or {})}
    return sorted(seen, key=lambda r: (_RULE_ORDER.get(r, len(_RULE_ORDER)), r))


def contract_names(cert: Certificate) -> list[str]:
    """The contracts some provider of *cert* has a verdict for, in catalogue order."""
    seen = {c for p in (cert.get("providers") or {}).values() for c in (p.get("contracts") or {})}
    return sorted(seen, key=lambda c: (_CONTRACT_ORDER.get(c, len(_CONTRACT_ORDER)), c))


def _contract_of(cert: Certificate, rule: str) -> str:
    for provider in (cert.get("providers") or {}).values():
        entry = (provider.get("rules") or {}).get(rule)
        if entry and entry.get("contract"):
            return str(entry["contract"])
    return RULES[rule].contract if rule in RULES else "other"


def rules_by_contract(cert: Certificate) -> dict[str, list[str]]:
    """Contract → its rules that ran, both in catalogue order."""
    grouped: dict[str, list[str]] = {}
    for rule in rule_ids(cert):
        grouped.setdefault(_contract_of(cert, rule), []).append(rule)
    return dict(sorted(grouped.items(), key=lambda kv: (_CONTRACT_ORDER.get(kv[0], len(_CONTRACT_ORDER)), kv[0])))


def summary(rule: str) -> str:
    """The one-sentence summary of *rule* from the catalogue (empty for a rule it does not know)."""
    return RULES[rule].text if rule in RULES else ""


@dataclass(frozen=True)
class Failure:
    """A rule of a provider that did not pass cleanly, with its first witness (one test's message, trace, replay)."""

    provider: str
    rule: str
    #: ``failed``, ``waived`` or ``non-strict``.
    verdict: str
    message: str
    trace: str | None
    replay: str | None
    #: The waiver's reason, for a waived rule.
    waiver: str | None
    #: Witnesses of the rule besides the one shown (other tests that did not pass).
    more: int = 0


def failures(cert: Certificate) -> Iterator[Failure]:
    """Every failed, waived or non-strict rule of every provider, providers first, rules in catalogue order."""
    order = rule_ids(cert)
    for name in provider_names(cert):
        rules = cert["providers"][name].get("rules") or {}
        for rule in order:
            entry = rules.get(rule)
            if not entry or entry.get("verdict") not in PROBLEMS:
                continue
            witnesses = entry.get("witnesses") or [{}]
            # Message, trace and replay all of one test (the first witness), so they agree.
            witness: Mapping[str, Any] = witnesses[0]
            waiver = entry.get("waiver") or {}
            yield Failure(
                provider=name,
                rule=rule,
                verdict=str(entry["verdict"]),
                message=str(witness.get("message") or entry.get("message") or entry["verdict"]),
                trace=witness.get("trace"),
                replay=witness.get("replay"),
                waiver=waiver.get("reason"),
                more=len(witnesses) - 1,
            )


def percent(share: object) -> str:
    """A coverage share (0…1) as ``86.2%``; ``n/a`` when there is none."""
    return f"{float(share) * 100:.1f}%" if isinstance(share, (int, float)) else "n/a"


def run_facts(cert: Certificate) -> list[tuple[str, str]]:
    """What was certified and how, as (label, value) pairs: kit, catalogue, Python, profile, seed, command."""
    kit = cert.get("kit") or {}
    run = cert.get("run") or {}
    facts = [
        ("kit", f"{kit.get('name', 'pytest-lifecycle')} {kit.get('version', '?')}"),
        ("catalogue sha256", str(kit.get("catalogue_sha256") or "?")[:16]),
        ("Python", f"{run.get('implementation', '')} {run.get('python', '?')}".strip()),
        ("platform", str(run.get("platform") or "?")),
        ("profile", str(run.get("profile") or "?")),
        ("Hypothesis seed", str(run["hypothesis_seed"]) if run.get("hypothesis_seed") is not None else "not fixed"),
        ("strict", "yes" if run.get("strict") else "no"),
        ("rules", ", ".join(map(str, run.get("rule_filter") or [])) or "all"),
    ]
    complete = run.get("complete")
    ended = "complete" if complete else "did not complete (no verdict is certified)"
    facts.append(("run", f"{ended}, exit status {run.get('exitstatus', '?')}"))
    if run.get("started"):
        facts.append(("started", str(run["started"])))
    if isinstance(run.get("duration"), (int, float)):
        facts.append(("duration", f"{run['duration']:.1f} s"))
    if run.get("command"):
        command = run["command"]
        facts.append(("command", shlex.join(map(str, command)) if isinstance(command, list) else str(command)))
    return facts
