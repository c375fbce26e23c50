"""The certificate as one self-contained HTML page (``--lifecycle-html``).

Inline CSS only: no script, no stylesheet link, nothing fetched from the
network, so the page opens from a CI artifact as it is.  The provider ×
rule matrix is coloured by verdict; each cell carries ``data-provider``,
``data-rule`` and ``data-verdict`` (a rule a provider has no verdict for
reads ``not run``), and folds every witness of a failed, waived or
non-strict rule — message, replay command, shrunk steps, trace — in a
``<details>`` under the verdict.  Then the open choices, the coverage of
each provider (per contract, and lines per rule in the cells), the waivers.
Every value from the certificate is HTML-escaped.
"""

from __future__ import annotations

import html
from typing import Any, Final

from pytest_lifecycle._core.catalogue import CHOICES
from pytest_lifecycle._render import (
    NOT_RUN,
    PROBLEMS,
    Certificate,
    contract_names,
    percent,
    provider_names,
    rules_by_contract,
    run_facts,
    slug,
    summary,
)

__all__ = ["render"]

#: Characters of a message shown in the fold's summary line (the fold has all of it).
SUMMARY_CHARS: Final = 160

STYLE: Final = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5em; color: #1f2328; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; }
th, td { border: 1px solid #d0d7de; padding: .25em .5em; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
tr.contract th { background: #eaeef2; font-weight: 600; }
td.summary { color: #57606a; max-width: 40em; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; overflow: auto; max-height: 30em; max-width: 60em; background: #f6f8fa; padding: .5em; }
details { max-width: 60em; } summary { cursor: pointer; }
.dur, .lines { color: #57606a; font-size: .85em; }
.verdict { padding: .1em .4em; border-radius: .3em; }
.v-passed, .v-certified { background: #c8e6c9; }
.v-failed, .v-not-certified { background: #ffcdd2; }
.v-non-strict, .v-certified-non-strict { background: #fff3b0; }
.v-waived { background: #ffe0b2; }
.v-incomplete { background: #e1bee7; }
.v-skipped { background: #e0e0e0; }
.v-not-claimed { background: #f6f8fa; color: #6e7781; }
.v-not-run { background: #fff; color: #8c959f; }
.bar { display: inline-block; width: 8em; height: .7em; background: #ffcdd2; vertical-align: middle; }
.bar span { display: block; height: 100%; background: #2e7d32; }
.legend span { margin-right: .5em; }
"""

LEGEND: Final = ("passed", "failed", "waived", "non-strict", "incomplete", "skipped", "not claimed", NOT_RUN)


def e(value: object) -> str:
    """*value* HTML-escaped (quotes too: safe in text and in attributes)."""
    return html.escape(str(value), quote=True)


def _verdict(verdict: object, **data: object) -> str:
    attrs = "".join(f' data-{k}="{e(v)}"' for k, v in data.items())
    return f'<span class="verdict v-{slug(str(verdict))}"{attrs} data-verdict="{e(verdict)}">{e(verdict)}</span>'


def _header(cert: Certificate) -> list[str]:
    out = [f"<h1>pytest-lifecycle certificate {_verdict(cert.get('verdict', '?'))}</h1>", '<dl class="facts">']
    for label, value in run_facts(cert):
        shown = f"<code>{e(value)}</code>" if label in ("command", "catalogue sha256") else e(value)
        out.append(f"<dt>{e(label)}</dt><dd>{shown}</dd>")
    out.append("</dl>")
    return out


def _providers(cert: Certificate) -> list[str]:
    contracts = contract_names(cert)
    out = [
        '<section id="providers"><h2>Providers</h2><table class="providers"><thead><tr>',
        "<th>provider</th><th>verdict</th><th>origin</th><th>package</th><th>capabilities</th>",
        *(f"<th>{e(c)}</th>" for c in contracts),
        "</tr></thead><tbody>",
    ]
    for name in provider_names(cert):
        p = cert["providers"][name]
        dist = p.get("distribution") or {}
        package = f"{dist.get('name')} {dist.get('version')}" if dist else "—"
        out.append(
            f'<tr><th scope="row">{e(name)}</th><td>{_verdict(p.get("verdict", "?"), provider=name)}</td>'
            f"<td>{e(p.get('origin') or '')}</td><td>{e(package)}</td>"
            f"<td>{e(', '.join(map(str, p.get('capabilities') or [])) or '—')}</td>"
        )
        for c in contracts:
            verdict = ((p.get("contracts") or {}).get(c) or {}).get("verdict", "not claimed")
            out.append(f"<td>{_verdict(verdict, provider=name, contract=c)}</td>")
        out.append("</tr>")
    out.append("</tbody></table></section>")
    return out


def _witness(w: dict[str, Any], fallback: str) -> str:
    message = str(w.get("message") or fallback)
    short = message if len(message) <= SUMMARY_CHARS else message[:SUMMARY_CHARS] + "…"
    parts = [f"<details><summary>{e(short)}</summary>"]
    if w.get("nodeid"):
        parts.append(f"<p>test <code>{e(w['nodeid'])}</code></p>")
    parts.append(f'<p class="message">{e(message)}</p>')
    if w.get("replay"):
        parts.append(f"<p>replay: <code>{e(w['replay'])}</code></p>")
    if w.get("seed"):
        parts.append(f"<p>Hypothesis seed <code>{e(w['seed'])}</code></p>")
    if w.get("steps"):
        parts.append(
            '<p>shrunk steps:</p><ol class="steps">'
            + "".join(f"<li><code>{e(s)}</code></li>" for s in w["steps"])
            + "</ol>"
        )
    if w.get("trace"):
        parts.append(f"<pre>{e(w['trace'])}</pre>")
    parts.append("</details>")
    return "".join(parts)


def _cell(name: str, rule: str, entry: dict[str, Any] | None, lines: dict[str, Any]) -> str:
    if entry is None:
        return f'<td class="v v-not-run" data-provider="{e(name)}" data-rule="{e(rule)}" data-verdict="{NOT_RUN}">{NOT_RUN}</td>'
    verdict = str(entry.get("verdict", "?"))
    parts = [
        f'<td class="v v-{slug(verdict)}" data-provider="{e(name)}" data-rule="{e(rule)}" data-verdict="{e(verdict)}">',
        f'<span class="label">{e(verdict)}</span>',
    ]
    if isinstance(entry.get("duration"), (int, float)):
        parts.append(f' <span class="dur">{entry["duration"]:.2f} s</span>')
    if rule in lines:
        parts.append(
            f' <span class="lines" title="lines of the provider this rule ran">{e(lines[rule].get("lines", "?"))} lines</span>'
        )
    waiver = entry.get("waiver")
    if waiver:
        expires = f", expires {waiver['expires']}" if waiver.get("expires") else ""
        parts.append(f'<p class="waiver">waived: {e(waiver.get("reason", ""))}{e(expires)}</p>')
    if verdict in PROBLEMS:
        witnesses = entry.get("witnesses") or [{}]
        parts += [_witness(w, str(entry.get("message") or verdict)) for w in witnesses]
    elif entry.get("message") and verdict not in ("passed", "not claimed"):
        parts.append(f'<p class="message">{e(entry["message"])}</p>')  # why skipped or incomplete
    parts.append("</td>")
    return "".join(parts)


def _matrix(cert: Certificate) -> list[str]:
    names = provider_names(cert)
    providers = [cert["providers"][n] for n in names]
    rules = [p.get("rules") or {} for p in providers]
    lines = [((p.get("coverage") or {}).get("rules") or {}) for p in providers]
    width = len(names) + 4
    out = [
        '<section id="matrix"><h2>Rules</h2>',
        '<p class="legend">' + "".join(_verdict(v) for v in LEGEND) + "</p>",
        '<table class="matrix"><thead><tr><th>rule</th><th>kind</th><th>level</th>',
        *(f"<th>{e(n)}</th>" for n in names),
        "<th>summary</th></tr></thead><tbody>",
    ]
    for contract, ids in rules_by_contract(cert).items():
        out.append(f'<tr class="contract"><th colspan="{width}">{e(contract)}</th></tr>')
        for rule in ids:
            some = next(r[rule] for r in rules if rule in r)
            text = some.get("text") or ""
            out.append(
                f'<tr id="rule-{e(rule)}"><th scope="row" title="{e(text)}">{e(rule)}</th>'
                f"<td>{e(some.get('kind', ''))}</td><td>{e(some.get('level', ''))}</td>"
            )
            out += [_cell(n, rule, r.get(rule), cov) for n, r, cov in zip(names, rules, lines)]
            out.append(f'<td class="summary">{e(summary(rule))}</td></tr>')
    out.append("</tbody></table></section>")
    return out


def _choices(cert: Certificate) -> list[str]:
    rows = []
    for name in provider_names(cert):
        for choice, branches in sorted((cert["providers"][name].get("choices") or {}).items()):
            about = CHOICES[choice].text if choice in CHOICES else ""
            taken = ", ".join(f"<code>{e(b)}</code>" for b in branches)
            rows.append(
                f"<tr><td>{e(name)}</td><td><code>{e(choice)}</code></td><td>{taken}</td><td>{e(about)}</td></tr>"
            )
    if not rows:
        return []
    return [
        '<section id="choices"><h2>Open choices</h2><table><thead><tr><th>provider</th><th>open choice</th>'
        "<th>branch taken</th><th>what it is about</th></tr></thead><tbody>",
        *rows,
        "</tbody></table></section>",
    ]


def _ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7]`` → ``1-3, 7``."""
    spans: list[list[int]] = []
    for n in sorted(lines):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


def _bar(share: object) -> str:
    width = f"{float(share) * 100:.1f}%" if isinstance(share, (int, float)) else "0%"
    return f'<span class="bar"><span style="width: {width}"></span></span>'


def _coverage(cert: Certificate) -> list[str]:
    out: list[str] = []
    for name in provider_names(cert):
        cov = cert["providers"][name].get("coverage")
        if not cov:
            continue
        packages = ", ".join(map(str, cov.get("packages") or []))
        out.append(f"<h3>{e(name)}: {e(packages)} (measured by {e(cov.get('measured_by', '?'))})</h3>")
        if cov.get("note"):
            out.append(f'<p class="note">{e(cov["note"])}</p>')
        out.append(
            "<table><thead><tr><th>contract</th><th>statements</th><th>reached</th><th>share</th></tr></thead><tbody>"
        )
        for contract, c in sorted((cov.get("contracts") or {}).items()):
            out.append(
                f"<tr><td>{e(contract)}</td><td>{e(c.get('statements', '?'))}</td><td>{e(c.get('reached', '?'))}</td>"
                f"<td>{_bar(c.get('share'))} {e(percent(c.get('share')))}</td></tr>"
            )
        out.append(
            f"<tr><th>all</th><td>{e(cov.get('statements', '?'))}</td><td>{e(cov.get('reached', '?'))}</td>"
            f"<td>{_bar(cov.get('share'))} {e(percent(cov.get('share')))}</td></tr></tbody></table>"
        )
        dark = cov.get("dark") or {}
        if dark:
            count = sum(len(v) for v in dark.values())
            out.append(f"<details><summary>{count} statements no rule reaches</summary><ul>")
            out += [
                f"<li><code>{e(path)}</code>: {e(_ranges(list(lines)))}</li>" for path, lines in sorted(dark.items())
            ]
            out.append("</ul></details>")
        if cov.get("html"):
            out.append(f"<p>coverage.py's report, one context per rule: <code>{e(cov['html'])}</code></p>")
    return ['<section id="coverage"><h2>Coverage of the provider</h2>', *out, "</section>"] if out else []


def _waivers(cert: Certificate) -> list[str]:
    waivers = cert.get("waivers") or []
    if not waivers:
        return []
    rows = [
        f"<tr><td>{e(w.get('rule', '?'))}</td><td>{e(w.get('provider', '?'))}</td><td>{e(w.get('reason', ''))}</td>"
        f"<td>{e(w.get('expires') or 'never')}</td><td>{e(w.get('status', '?'))}</td></tr>"
        for w in waivers
    ]
    return [
        '<section id="waivers"><h2>Waivers</h2><table><thead><tr><th>rule</th><th>provider</th><th>reason</th>'
        "<th>expires</th><th>status</th></tr></thead><tbody>",
        *rows,
        "</tbody></table></section>",
    ]


def render(cert: Certificate) -> str:
    """The certificate *cert* as one self-contained HTML page."""
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pytest-lifecycle certificate: {e(cert.get('verdict', '?'))}</title>",
        f"<style>{STYLE}</style></head><body>",
        *_header(cert),
    ]
    if provider_names(cert):
        out += _providers(cert) + _matrix(cert) + _choices(cert) + _coverage(cert)
    else:
        out.append("<p>No provider ran: nothing is certified.</p>")
    out += _waivers(cert)
    abandoned = cert.get("abandoned") or []
    if abandoned:
        out += [
            '<section id="abandoned"><h2>Provider threads left running</h2><ul>',
            *(f"<li>{e(a)}</li>" for a in abandoned),
            "</ul></section>",
        ]
    out.append("</body></html>")
    return "\n".join(out) + "\n"
