"""The certificate as Markdown: ``--lifecycle-markdown`` and the GitHub step summary.

GitHub-flavoured Markdown: the verdict per provider and contract, the
provider × rule matrix (a column per provider), every failed, waived or
non-strict rule with its message, replay command and trace (folded), the
open choices, the coverage of each provider per contract, the waivers.
Every value from the certificate is escaped, so a message cannot break the
table or inject markup.
"""

from __future__ import annotations

import re
from typing import Any, Final

from pytest_lifecycle._render import (
    NOT_RUN,
    Certificate,
    contract_names,
    failures,
    percent,
    provider_names,
    rules_by_contract,
    run_facts,
    summary,
)

__all__ = ["render"]

MARK: Final = {
    "certified": "✅",
    "certified (non-strict)": "⚠️",
    "not certified": "❌",
    "passed": "✅",
    "failed": "❌",
    "non-strict": "⚠️",
    "waived": "🏳️",
    "incomplete": "◐",
    "skipped": "⏭️",
}
#: Characters with a meaning in (GitHub-flavoured) Markdown, backslash-escaped in text.
_SPECIAL: Final = re.compile(r"([\\`*_\[\]<>|~#!])")
#: A trace longer than this is cut in the Markdown (the certificate keeps it whole).
MAX_TRACE: Final = 20_000


def _text(value: object) -> str:
    """*value* as one line of literal Markdown text (safe in a table cell)."""
    line = " ".join(str(value).split())
    return _SPECIAL.sub(r"\\\1", line.replace("&", "&amp;"))


def _code(value: object) -> str:
    """*value* as an inline code span, safe in a table cell."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _verdict(verdict: object) -> str:
    mark = MARK.get(str(verdict))
    return f"{mark} {_text(verdict)}" if mark else _text(verdict)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)]


def _providers(cert: Certificate) -> list[str]:
    contracts = contract_names(cert)
    rows = []
    for name in provider_names(cert):
        p = cert["providers"][name]
        dist = p.get("distribution") or {}
        package = f"{dist.get('name')} {dist.get('version')}" if dist else "—"
        verdicts = [
            _verdict(((p.get("contracts") or {}).get(c) or {}).get("verdict", "not claimed")) for c in contracts
        ]
        rows.append([_code(name), _verdict(p.get("verdict", "?")), _text(package), *verdicts])
    return _table(["provider", "verdict", "package", *(_text(c) for c in contracts)], rows)


def _matrix(cert: Certificate) -> list[str]:
    names = provider_names(cert)
    rules = [cert["providers"][n].get("rules") or {} for n in names]
    rows = []
    for contract, ids in rules_by_contract(cert).items():
        rows.append([f"**{_text(contract)}**", "", *([""] * len(names)), ""])
        for rule in ids:
            kind = next((r[rule].get("kind") for r in rules if rule in r), "")
            cells = [_verdict(r[rule].get("verdict", "?")) if rule in r else NOT_RUN for r in rules]
            rows.append([_text(rule), _text(kind or ""), *cells, _text(summary(rule))])
    return _table(["rule", "kind", *(_code(n) for n in names), "summary"], rows)


def _fenced(text: str, max_trace: int) -> list[str]:
    if len(text) > max_trace:
        text = text[:max_trace] + f"\n… ({len(text) - max_trace} more characters in the certificate)"
    longest = max((len(run) for run in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * (longest + 1)
    return [f"{fence}text", text.replace("\r", ""), fence]


def _failures(cert: Certificate, max_trace: int) -> list[str]:
    lines: list[str] = []
    for f in failures(cert):
        waived = f" ({_text(f.waiver)})" if f.waiver else ""
        lines.append(f"**{_text(f.rule)}** · {_code(f.provider)} · {_verdict(f.verdict)}{waived}: {_text(f.message)}")
        if f.replay:
            lines[-1] += "  "  # a hard line break
            lines.append(f"replay: {_code(f.replay)}")
        if f.more:
            lines[-1] += "  "
            lines.append(
                f"and {f.more} more {'test' if f.more == 1 else 'tests'} of the rule that did not pass (in the certificate)"
            )
        if f.trace and max_trace > 0:
            lines += ["", "<details><summary>trace</summary>", "", *_fenced(f.trace, max_trace), "", "</details>"]
        lines.append("")
    return lines[:-1]


def _choices(cert: Certificate) -> list[str]:
    rows = [
        [_code(name), _text(choice), ", ".join(_code(b) for b in branches)]
        for name in provider_names(cert)
        for choice, branches in sorted((cert["providers"][name].get("choices") or {}).items())
    ]
    return _table(["provider", "open choice", "branch taken"], rows) if rows else []


def _coverage(cert: Certificate) -> list[str]:
    lines = []
    for name in provider_names(cert):
        cov: dict[str, Any] | None = cert["providers"][name].get("coverage")
        if not cov:
            continue
        packages = ", ".join(_code(p) for p in cov.get("packages") or [])
        head = (
            f"- {_code(name)} ({packages}, measured by {_text(cov.get('measured_by', '?'))}): "
            f"{percent(cov.get('share'))} of {cov.get('statements', '?')} statements reached by the rules"
        )
        lines.append(head)
        for contract, c in sorted((cov.get("contracts") or {}).items()):
            lines.append(
                f"  - {_text(contract)}: {percent(c.get('share'))} "
                f"({c.get('reached', '?')} of {c.get('statements', '?')} statements)"
            )
        dark = sum(len(v) for v in (cov.get("dark") or {}).values())
        if dark:
            lines.append(f"  - {dark} statements no rule reaches (the certificate lists them under `dark`)")
        if cov.get("note"):
            lines.append(f"  - note: {_text(cov['note'])}")
    return lines


def _waivers(cert: Certificate) -> list[str]:
    rows = [
        [
            _text(w.get("rule", "?")),
            _code(w.get("provider", "?")),
            _text(w.get("reason", "")),
            _text(w.get("expires") or "never"),
            _text(w.get("status", "?")),
        ]
        for w in cert.get("waivers") or []
    ]
    return _table(["rule", "provider", "reason", "expires", "status"], rows) if rows else []


def render(cert: Certificate, *, max_trace: int = MAX_TRACE) -> str:
    """The certificate *cert* as a Markdown document (GitHub-flavoured).

    Traces longer than *max_trace* characters are cut (0: no traces; the
    certificate always has them whole).
    """
    out = [f"## pytest-lifecycle: {_verdict(cert.get('verdict', '?'))}", ""]
    out.append(
        " · ".join(
            f"{label}: {_code(value) if label == 'command' else _text(value)}" for label, value in run_facts(cert)
        )
    )
    out.append("")
    if not provider_names(cert):
        out += ["No provider ran: nothing is certified.", ""]
        return "\n".join(out)
    out += [*_providers(cert), "", "### Rules", "", *_matrix(cert)]
    for title, section in (
        ("Failures", _failures(cert, max_trace)),
        ("Open choices", _choices(cert)),
        ("Coverage of the provider", _coverage(cert)),
        ("Waivers", _waivers(cert)),
    ):
        if section:
            out += ["", f"### {title}", "", *section]
    abandoned = cert.get("abandoned") or []
    if abandoned:
        out += ["", "### Provider threads left running", "", *(f"- {_text(a)}" for a in abandoned)]
    return "\n".join(out) + "\n"
