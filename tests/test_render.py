"""The certificate's formats: Markdown, HTML, the badge, GitHub Actions, JUnit XML.

Hand-made certificates (in the shape ``pytest_lifecycle/_plugin/certificate.py``
builds, with hostile text in every field a provider controls) pin each
format; real certificates from runs against mutants check that what the
formats show agrees with the JSON, cell by cell.  JUnit XML is pytest's own
``--junitxml``: every conformance test case must carry its rule, level and
provider as properties, serial and under xdist.
"""

from __future__ import annotations

import copy
import io
import json
import re
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import RULES
from pytest_lifecycle._render import badge, github, html, markdown

HOSTILE = "<script>alert('x')</script> | `tick` 100% *bold* [link](http://example.com)\nsecond line"
KEYED_LOCKS = "keyed_locks"
ROOT = Path(__file__).resolve().parent.parent


# -- hand-made certificates ---------------------------------------------------------


def _rule(
    rule: str,
    verdict: str,
    *,
    provider: str = "mine",
    message: str | None = None,
    trace: str | None = None,
    waiver: dict[str, Any] | None = None,
) -> dict[str, Any]:
    nodeid = f"conformance/{RULES[rule].contract}.py::test_{rule.lower().replace('-', '')}[{provider}]"
    witnesses = []
    if verdict in ("failed", "waived", "non-strict"):
        witnesses.append(
            {
                "nodeid": nodeid,
                "message": message,
                "trace": trace or f"E   {message}",
                "steps": ["state = Machine()", "state.acquire(key='a')"],
                "seed": "12345",
                "replay": f"pytest --pyargs conformance.{RULES[rule].contract} -k test_x --lifecycle-provider {provider}",
            }
        )
    return {
        "verdict": verdict,
        "contract": RULES[rule].contract,
        "kind": RULES[rule].kind,
        "level": "must+should" if RULES[rule].should else "must",
        "duration": 0.25,
        "message": message,
        "text": RULES[rule].where,
        "tests": [{"nodeid": nodeid, "level": "must", "outcome": verdict, "duration": 0.25}],
        "witnesses": witnesses,
        "waiver": waiver,
    }


def _provider(
    name: str,
    verdict: str,
    contracts: dict[str, str],
    rules: dict[str, dict[str, Any]],
    coverage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "origin": f"import path 'tests.{name}:provider'",
        "spec": f"tests.{name}:provider",
        "distribution": {"name": f"{name}-dist", "version": "1.2.3"},
        "capabilities": ["eviction"],
        "verdict": verdict,
        "contracts": {
            c: {"verdict": v, "rules": sorted(r for r in rules if RULES[r].contract == c)} for c, v in contracts.items()
        },
        "rules": rules,
        "choices": {},
        "coverage": coverage,
    }


def _certificate(providers: dict[str, dict[str, Any]], verdict: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kit": {"name": "pytest-lifecycle", "version": "0.2.0", "catalogue_sha256": "ab" * 32},
        "run": {
            "python": "3.11.9",
            "implementation": "CPython",
            "platform": "Linux-6.1-x86_64",
            "profile": "ci",
            "hypothesis_seed": "12345",
            "command": ["pytest", "--pyargs", "conformance", "-k", "a b"],
            "strict": False,
            "rule_filter": ["LK"],
            "complete": True,
            "exitstatus": 1,
            "started": "2026-11-29T17:00:00+00:00",
            "finished": "2026-11-29T17:00:12+00:00",
            "duration": 12.3,
        },
        "verdict": verdict,
        "providers": providers,
        "waivers": [],
        "abandoned": [],
    }


def hand_made() -> dict[str, Any]:
    """Two providers over keyed_locks: one certified, one with every kind of problem (and hostile text)."""
    reference = _provider(
        "reference",
        "certified",
        {KEYED_LOCKS: "certified"},
        {r: _rule(r, "passed", provider="reference") for r in ("LK-01", "LK-02", "LK-03", "LK-04", "LK-09")},
        coverage={
            "packages": ["reference_impl"],
            "measured_by": "pytest-lifecycle",
            "note": None,
            "statements": 200,
            "reached": 150,
            "share": 0.75,
            "contracts": {KEYED_LOCKS: {"statements": 200, "reached": 150, "share": 0.75}},
            "rules": {"LK-01": {"lines": 40}, "LK-02": {"lines": 7}},
            "dark": {"reference_impl/locks.py": [10, 11, 12, 20]},
            "html": "htmlcov-lifecycle",
        },
    )
    reference["choices"] = {"LK/some-choice": ["first <b>"]}
    mine = _provider(
        "mine",
        "not certified",
        {KEYED_LOCKS: "not certified"},
        {
            "LK-01": _rule("LK-01", "non-strict", message="[LK-01] SHOULD: the held lock was collected"),
            "LK-02": _rule("LK-02", "failed", message=f"[LK-02] {HOSTILE}", trace=f"trace line 1\n```\n{HOSTILE}"),
            "LK-03": _rule(
                "LK-03",
                "waived",
                message="[LK-03] known bug",
                waiver={"reason": "ticket <#42>", "expires": "2027-01-01"},
            ),
            "LK-04": _rule("LK-04", "incomplete", message="crash tests need an importable provider"),
            "LK-09": _rule("LK-09", "not claimed", message="not claimed: keyed_locks"),
        },
    )
    cert = _certificate({"reference": reference, "mine <x>": mine}, "not certified")
    cert["waivers"] = [
        {
            "rule": "LK-03",
            "provider": "mine <x>",
            "reason": "ticket <#42>",
            "expires": "2027-01-01",
            "status": "applied",
        },
        {"rule": "LK-04", "provider": "reference", "reason": "old", "expires": "2026-01-01", "status": "expired"},
    ]
    cert["abandoned"] = ["thread 'worker <1>' (after conformance/keyed_locks.py::test_lk02[mine])"]
    return cert


def four_contracts(providers: int = 3) -> dict[str, Any]:
    """≈ 55 rules over four contracts, every provider failing a third of them with a long trace."""
    contracts = ("session_lifecycle", "checkpoint_store", "keyed_locks", "event_streams")
    ids = [r for r, rule in RULES.items() if rule.contract in contracts]
    out = {}
    for n in range(providers):
        name = f"provider-{n}"
        rules = {
            r: _rule(
                r,
                "failed" if i % 3 == n % 3 else "passed",
                provider=name,
                message=f"[{r}] broke",
                trace="\n".join(f"step {k}: call(...)" for k in range(200)),
            )
            for i, r in enumerate(ids)
        }
        out[name] = _provider(name, "not certified", {c: "not certified" for c in contracts}, rules)
    return _certificate(out, "not certified")


# -- reading the HTML ------------------------------------------------------------------

VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "track", "embed", "param"}


class Page(HTMLParser):
    """The matrix cells, the contract verdicts and the tags of an HTML page; checks tags balance."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: dict[tuple[str, str], str] = {}
        self.contracts: dict[tuple[str, str], str] = {}
        self.providers: dict[str, str] = {}
        self.tags: list[str] = []
        self.attr_values: list[str] = []
        self.open: list[str] = []
        self.text: list[str] = []
        self.cell_details: dict[tuple[str, str], int] = {}
        self._cell: tuple[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        self.attr_values += a.values()
        if tag not in VOID:
            self.open.append(tag)
        if tag == "td" and "data-rule" in a:
            key = (a["data-provider"], a["data-rule"])
            assert key not in self.cells, f"two cells for {key}"
            self.cells[key] = a["data-verdict"]
            self._cell = key
            self.cell_details[key] = 0
        elif "data-contract" in a:
            self.contracts[(a["data-provider"], a["data-contract"])] = a["data-verdict"]
        elif "data-provider" in a and "data-verdict" in a:
            self.providers[a["data-provider"]] = a["data-verdict"]
        if tag == "details" and self._cell is not None:
            self.cell_details[self._cell] += 1

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()
        if tag == "td":
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    assert not parser.open, f"unclosed tags: {parser.open}"
    return parser


def assert_matrix_agrees(page: Page, cert: dict[str, Any]) -> None:
    """Every cell of the HTML matrix says what the JSON says, and no cell is missing or extra."""
    rules = {r for p in cert["providers"].values() for r in p["rules"]}
    expected = {
        (name, rule): p["rules"][rule]["verdict"] if rule in p["rules"] else "not run"
        for name, p in cert["providers"].items()
        for rule in rules
    }
    assert page.cells == expected
    assert page.contracts == {
        (name, c): v["verdict"] for name, p in cert["providers"].items() for c, v in p["contracts"].items()
    }
    assert page.providers == {name: p["verdict"] for name, p in cert["providers"].items()}


def assert_self_contained(page: str) -> None:
    """No script, no stylesheet link, no attribute or CSS that fetches anything."""
    assert "<script" not in page.lower() and "<link" not in page.lower()
    style = page.split("</style>")[0].lower()
    assert "url(" not in style and "@import" not in style, "CSS fetching something"
    fetching = [v for v in parse(page).attr_values if "://" in v or v.strip().startswith("//") or "url(" in v]
    assert not fetching, f"attributes that fetch: {fetching}"


# -- HTML ------------------------------------------------------------------------------


def test_html_matrix_agrees_with_the_certificate() -> None:
    cert = hand_made()
    page = parse(html.render(cert))
    assert_matrix_agrees(page, cert)
    # A rule one provider has no verdict for reads "not run".
    only_one = copy.deepcopy(cert)
    del only_one["providers"]["mine <x>"]["rules"]["LK-09"]
    assert parse(html.render(only_one)).cells[("mine <x>", "LK-09")] == "not run"


def test_html_folds_every_witness_under_its_cell() -> None:
    cert = hand_made()
    page = parse(html.render(cert))
    folded = {key for key, n in page.cell_details.items() if n}
    assert folded == {("mine <x>", "LK-01"), ("mine <x>", "LK-02"), ("mine <x>", "LK-03")}
    text = "".join(page.text)
    assert HOSTILE in text, "the message is shown whole, as text"
    assert "trace line 1" in text and "state.acquire(key='a')" in text and "12345" in text
    assert "waived: ticket <#42>, expires 2027-01-01" in text


def test_html_escapes_every_value_and_is_self_contained() -> None:
    page = html.render(hand_made())
    assert_self_contained(page)
    parsed = parse(page)
    assert "script" not in parsed.tags and "b" not in parsed.tags and "x" not in parsed.tags
    assert "<x>" not in page and "&lt;x&gt;" in page


def test_html_shows_choices_coverage_waivers_and_threads() -> None:
    page = html.render(hand_made())
    text = "".join(parse(page).text)
    assert "LK/some-choice" in text and "first <b>" in text
    assert "75.0%" in text and "40 lines" in text and "7 lines" in text
    assert "reference_impl/locks.py: 10-12, 20" in " ".join(text.split()).replace(" :", ":")
    assert "expired" in text and "ticket <#42>" in text
    assert "thread 'worker <1>'" in text


def test_any_key_order_renders_the_same() -> None:
    """The certificate's JSON sorts its keys: a certificate read back renders as the one built."""
    cert = hand_made()
    read_back = json.loads(json.dumps(cert, sort_keys=True))
    assert list(read_back["providers"]) != list(cert["providers"])
    for render in (html.render, markdown.render, badge.render):
        assert render(read_back) == render(cert)


def test_html_without_provider_says_nothing_is_certified() -> None:
    cert = _certificate({}, "not certified")
    page = html.render(cert)
    parse(page)
    assert "nothing is certified" in page


# -- Markdown ---------------------------------------------------------------------------


def _table_rows(text: str) -> list[list[str]]:
    """The cells of every table row (split on pipes that are not escaped)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("| "):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            rows.append([c.strip() for c in cells])
    return rows


def test_markdown_matrix_has_a_column_per_provider() -> None:
    cert = hand_made()
    text = markdown.render(cert)
    assert text.startswith("## pytest-lifecycle: ❌ not certified")
    header = next(r for r in _table_rows(text) if r[0] == "rule")
    assert header[2:4] == ["`mine <x>`", "`reference`"], "providers by name"
    rows: dict[str, list[str]] = {}
    for row in _table_rows(text):
        if re.fullmatch(r"LK-\d\d", row[0]):
            rows.setdefault(row[0], row)  # the matrix comes before the waivers
    assert set(rows) == {"LK-01", "LK-02", "LK-03", "LK-04", "LK-09"}
    for rule, row in rows.items():
        assert len(row) == len(header), f"{rule}: a value broke the table: {row}"
        for name, cell in zip(["mine <x>", "reference"], row[2:4]):
            assert cell.endswith(cert["providers"][name]["rules"][rule]["verdict"]), (rule, name, cell)


def test_markdown_verdicts_failures_choices_coverage() -> None:
    text = markdown.render(hand_made())
    providers: dict[str, list[str]] = {}
    for row in _table_rows(text):
        providers.setdefault(row[0], row)  # the providers table comes first
    assert providers["`reference`"][1:4] == ["✅ certified", "reference-dist 1.2.3", "✅ certified"]
    assert providers["`mine <x>`"][1] == "❌ not certified"
    assert "**LK-02** · `mine <x>` · ❌ failed: \\[LK-02\\] \\<script\\>" in text
    assert "replay: `pytest --pyargs conformance.keyed_locks -k test_x --lifecycle-provider mine`" in text
    assert "**LK-03** · `mine <x>` · 🏳️ waived (ticket \\<\\#42\\>)" in text
    assert "**LK-01** · `mine <x>` · ⚠️ non-strict" in text
    assert "\n````text\ntrace line 1\n```\n" in text, "the trace's own fence does not end the block"
    assert "| `reference` | LK/some-choice | `first <b>` |" in text
    assert "  - keyed\\_locks: 75.0% (150 of 200 statements)" in text
    assert "| LK-04 | `reference` | old | 2026-01-01 | expired |" in text


def test_a_failure_shows_one_test_whole_and_counts_the_others() -> None:
    """Message, replay and trace come from one witness, so they agree; the other failing tests are counted."""
    cert = hand_made()
    entry = cert["providers"]["mine <x>"]["rules"]["LK-02"]
    first = entry["witnesses"][0]
    entry["witnesses"] = [
        {**first, "message": "[LK-02] the first test", "replay": "pytest -k first"},
        {**first, "message": "[LK-02] the second test", "replay": "pytest -k second"},
    ]
    entry["message"] = "[LK-02] the second test"
    text = markdown.render(cert)
    assert "❌ failed: \\[LK-02\\] the first test  \nreplay: `pytest -k first`  \nand 1 more test of the rule" in text
    out = io.StringIO()
    github.publish(cert, None, environ={"GITHUB_ACTIONS": "true"}, stream=out)
    (error,) = [line for line in out.getvalue().splitlines() if line.startswith("::error title=LK-02")]
    assert error == (
        "::error title=LK-02 (mine <x>)::[LK-02] the first test%0Areplay: pytest -k first"
        "%0A(1 more test of the rule did not pass: see the certificate)"
    )
    assert parse(html.render(cert)).cell_details[("mine <x>", "LK-02")] == 2


def test_markdown_escapes_what_would_be_markup() -> None:
    text = markdown.render(hand_made())
    prose = re.sub(r"^(`{3,})text\n.*?^\1$", "", text, flags=re.M | re.S)  # traces are literal inside their fences
    assert "<script>" not in prose and "[link](http" not in prose
    assert "\nsecond line" not in prose, "a message stays on its line"


# -- badge ---------------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(
    ("verdict", "colour"), [("certified", "#4c1"), ("certified (non-strict)", "#dfb317"), ("not certified", "#e05d44")]
)
def test_badge_colour_and_text(verdict: str, colour: str) -> None:
    cert = hand_made()
    cert["verdict"] = verdict
    svg = ET.fromstring(badge.render(cert))
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert texts == ["pytest-lifecycle", "pytest-lifecycle", verdict, verdict]
    assert colour in [r.get("fill") for r in svg.iter(f"{SVG}rect")]
    assert svg.find(f"{SVG}title").text == f"pytest-lifecycle: {verdict}"  # type: ignore[union-attr]


def test_badge_of_one_provider_and_of_none() -> None:
    cert = hand_made()
    svg = ET.fromstring(badge.render(cert, provider="reference"))
    assert "certified" in [t.text for t in svg.iter(f"{SVG}text")]
    assert "#4c1" in [r.get("fill") for r in svg.iter(f"{SVG}rect")]
    with pytest.raises(KeyError, match="mine <x>, reference"):
        badge.render(cert, provider="other")
    empty = ET.fromstring(badge.render(_certificate({}, "not certified")))
    assert "no provider" in [t.text for t in empty.iter(f"{SVG}text")]
    assert "#9f9f9f" in [r.get("fill") for r in empty.iter(f"{SVG}rect")]


def test_badge_grows_with_its_text() -> None:
    cert = hand_made()
    widths = {}
    for verdict in ("certified", "certified (non-strict)"):
        cert["verdict"] = verdict
        widths[verdict] = int(ET.fromstring(badge.render(cert)).get("width", "0"))
    assert widths["certified"] < widths["certified (non-strict)"]


# -- GitHub Actions -----------------------------------------------------------------------


def test_github_annotations_and_step_summary(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    out = io.StringIO()
    cert = hand_made()
    github.publish(cert, None, environ={"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"}, stream=out)
    assert summary.read_text(encoding="utf-8") == "earlier step\n" + markdown.render(cert) + "\n"
    lines = out.getvalue().splitlines()
    assert [line.split("::")[1] for line in lines] == [
        "warning title=LK-01 (mine <x>)",
        "error title=LK-02 (mine <x>)",
        "warning title=LK-03 (mine <x>)",
        "warning title=LK-04 (mine <x>)",
        "error title=waiver LK-04 (reference)",
    ]
    error = lines[1]
    assert error.startswith("::error title=LK-02 (mine <x>)::[LK-02] <script>")
    assert "100%25" in error and "%0Asecond line" in error and "%0Areplay: pytest" in error and "\r" not in error
    assert "waived (ticket <#42>)" in lines[2]
    assert lines[3].endswith(
        "::incomplete: a skipped test never counts as passed: crash tests need an importable provider"
    )
    assert lines[4].endswith("::the waiver expired on 2026-01-01 (reason: old)")


def test_github_step_summary_stays_under_its_limit(tmp_path: Path) -> None:
    cert = four_contracts()
    for p in cert["providers"].values():
        for entry in p["rules"].values():
            for w in entry["witnesses"]:
                w["trace"] = "x" * 30_000
    assert len(markdown.render(cert).encode()) > github.SUMMARY_LIMIT
    summary = tmp_path / "summary.md"
    github.publish(cert, None, environ={"GITHUB_STEP_SUMMARY": str(summary)})
    text = summary.read_text(encoding="utf-8")
    assert len(text.encode()) < github.SUMMARY_LIMIT
    assert "28000 more characters in the certificate" in text and text.count("❌ failed") > 50


def test_github_title_escapes_properties() -> None:
    cert = hand_made()
    cert["providers"]["a:b,c"] = cert["providers"].pop("mine <x>")
    out = io.StringIO()
    github.publish(cert, None, environ={"GITHUB_ACTIONS": "true"}, stream=out)
    assert "::error title=LK-02 (a%3Ab%2Cc)::" in out.getvalue()


def test_github_is_silent_outside_github(tmp_path: Path) -> None:
    out = io.StringIO()
    github.publish(hand_made(), None, environ={}, stream=out)
    assert out.getvalue() == ""
    github.publish(hand_made(), None, environ={"GITHUB_ACTIONS": "false", "GITHUB_STEP_SUMMARY": ""}, stream=out)
    assert out.getvalue() == ""


# -- speed -------------------------------------------------------------------------------


def test_four_contracts_render_well_under_half_a_second() -> None:
    cert = four_contracts()
    assert 50 <= len({r for p in cert["providers"].values() for r in p["rules"]}) <= 62
    best = float("inf")
    for _ in range(3):  # best of three: the machine may be busy with other tests
        start = time.perf_counter()
        page, text = html.render(cert), markdown.render(cert)
        best = min(best, time.perf_counter() - start)
    assert best < 0.25, f"HTML + Markdown of four contracts took {best:.3f}s"
    assert_matrix_agrees(parse(page), cert)
    assert text.count("❌ failed") > 50


# -- real runs -----------------------------------------------------------------------------

MUTANT = "tests.mutants.keyed_locks.lk01_new_lock_per_call:provider"  # breaks LK-01, LK-02
SHOULD_MUTANT = "tests.mutants.keyed_locks.lk01_held_lock_not_pinned:provider"  # breaks LK-01's SHOULD only


def _certify(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any], Path]:
    out = pytester.path
    result = pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.keyed_locks",
        "--lifecycle-rule",
        "LK-01",
        "--lifecycle-rule",
        "LK-02",
        "--lifecycle-provider",
        "reference",
        "--lifecycle-provider",
        MUTANT,
        "--lifecycle-provider",
        SHOULD_MUTANT,
        "--lifecycle-certificate",
        str(out / "cert.json"),
        "--lifecycle-markdown",
        str(out / "cert.md"),
        "--lifecycle-html",
        str(out / "cert.html"),
        "-p",
        "no:cacheprovider",
        "-q",
        *args,
    )
    assert (out / "cert.json").exists(), result.stdout.str()
    return result, json.loads((out / "cert.json").read_text(encoding="utf-8")), out


def test_real_certificate_renders_what_it_says(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result, cert, out = _certify(pytester)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    mutant = cert["providers"]["mutant-new-lock-per-call"]["rules"]
    assert mutant["LK-01"]["verdict"] == "failed" and mutant["LK-02"]["verdict"] == "failed"
    assert cert["providers"]["mutant-held-lock-not-pinned"]["rules"]["LK-01"]["verdict"] == "non-strict"
    page_text = (out / "cert.html").read_text(encoding="utf-8")
    assert page_text == html.render(cert)
    assert_self_contained(page_text)
    assert "http://" not in page_text and "https://" not in page_text
    page = parse(page_text)
    assert_matrix_agrees(page, cert)
    assert page.cell_details[("mutant-new-lock-per-call", "LK-02")] == len(mutant["LK-02"]["witnesses"]) >= 1
    text = (out / "cert.md").read_text(encoding="utf-8")
    assert text == markdown.render(cert)
    assert summary.read_text(encoding="utf-8") == text + "\n"
    stdout = result.stdout.str()
    assert "::error title=LK-01 (mutant-new-lock-per-call)::[LK-01]" in stdout
    assert "::warning title=LK-01 (mutant-held-lock-not-pinned)::" in stdout
    assert "::error title=LK-01 (reference)" not in stdout
    ET.fromstring(badge.render(cert))


# -- JUnit XML ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "workers", [pytest.param([], id="serial"), pytest.param(["-n", "2"], id="xdist", marks=pytest.mark.extended)]
)
def test_junit_carries_rule_level_and_provider(pytester: pytest.Pytester, workers: list[str]) -> None:
    """Every conformance test case, passed, failed, non-strict or not claimed, names its rule, level and provider."""
    junit = pytester.path / "junit.xml"
    # xdist workers start in pytester's directory: this conftest lets them import ``tests.mutants...``.
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n")
    pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.keyed_locks",
        "conformance.respawn",
        "--lifecycle-rule",
        "LK-01",
        "--lifecycle-rule",
        "RS-01",
        "--lifecycle-provider",
        MUTANT,
        "--lifecycle-provider",
        SHOULD_MUTANT,
        "--junitxml",
        str(junit),
        "-p",
        "no:cacheprovider",
        "-q",
        *workers,
    )
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert cases, junit.read_text(encoding="utf-8")
    outcomes = set()
    for case in cases:
        props = [(p.get("name"), p.get("value")) for p in case.findall("properties/property")]
        names = [n for n, _ in props]
        for name in ("lifecycle_rule", "lifecycle_level", "lifecycle_provider"):
            assert names.count(name) == 1, f"{case.get('name')}: {name} x{names.count(name)} in {props}"
        found = dict(props)
        assert found["lifecycle_rule"] in ("LK-01", "RS-01") and found["lifecycle_level"] in ("must", "should")
        assert found["lifecycle_provider"] in ("mutant-new-lock-per-call", "mutant-held-lock-not-pinned")
        outcomes.add(next((child.tag for child in case if child.tag in ("failure", "skipped", "error")), "passed"))
    # Failed (LK-01 of the mutant), skipped (RS-01: neither claims respawn) and passed tests all carry them.
    assert {"failure", "skipped", "passed"} <= outcomes, outcomes
