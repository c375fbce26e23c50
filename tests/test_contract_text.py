"""The contract text users read and the catalogue the kit checks cannot drift.

``pytest_lifecycle/contract/*.md`` is parsed into the catalogue, so a rule
without a heading or a MUST cannot exist; these tests hold the rest of the
text to the catalogue: every rule explains its origin, no placeholder is
left, every rule id and link in the text (and in the project README) points
at something real, ``pytest-lifecycle rules`` prints what the file says, and
the files ship in the wheel.  That every rule has a conformance test citing
it is checked by ``tests/test_catalogue.py``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from pytest_lifecycle import CHOICES, CONTRACTS, RULES
from pytest_lifecycle._cli import main
from pytest_lifecycle._core.catalogue import contract_text

ROOT = Path(__file__).resolve().parents[1]
CONTRACT_DIR = ROOT / "pytest_lifecycle" / "contract"
CONTRACT_FILES = sorted(CONTRACT_DIR.glob("*.md"))
#: The Markdown users read: the project README and the contract folder.
DOCS = [ROOT / "README.md", *CONTRACT_FILES]

assert {f"{c}.md" for c in CONTRACTS} <= {p.name for p in CONTRACT_FILES}, "a contract file is missing"

RULE_MENTION = re.compile(r"\b[A-Z]{2,3}-\d{2}\b")
CHOICE_MENTION = re.compile(r"\b[A-Z]{2,3}/[a-z0-9][a-z0-9-]*\b")
INLINE_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _prose(text: str) -> str:
    """*text* without fenced code blocks and code spans (examples, not links)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


# -- every rule is explained ----------------------------------------------------


@pytest.mark.parametrize("rule_id", list(RULES))
def test_every_rule_has_must_and_origin(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule.must.strip(), f"{rule_id}: empty **MUST** paragraph in {rule.where}"
    origin = re.search(r"^\*\*Origin\*\* — (.+?)(?=\n\n|\Z)", rule.full_text, re.M | re.S)
    assert origin, f"{rule_id}: no **Origin** paragraph in {rule.where}"
    assert len(origin[1].split()) >= 30, f"{rule_id}: the Origin paragraph says too little: {origin[1]!r}"


@pytest.mark.parametrize("rule_id", list(RULES))
def test_summary_is_one_sentence(rule_id: str) -> None:
    text = RULES[rule_id].text
    assert text.endswith(".") and not re.search(r"\.\s", text), f"{rule_id}: the summary must be one sentence: {text!r}"


@pytest.mark.parametrize("path", CONTRACT_FILES, ids=lambda p: p.name)
def test_no_placeholder_left(path: Path) -> None:
    lines = [
        f"{n}: {line}" for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if "TODO" in line
    ]
    assert not lines, f"{_rel(path)} still has placeholders:\n" + "\n".join(lines)


@pytest.mark.parametrize("contract", list(CONTRACTS))
def test_contract_file_has_intro_surface_and_vocabulary(contract: str) -> None:
    text = contract_text(contract)
    headings = re.findall(r"^## (.+)$", text, re.M)
    required = ["Surface", "Vocabulary", "Rules", "Open choices"]
    assert [h for h in headings if h in required] == required, (
        f"{contract}.md sections: {headings}, expected {required} in order"
    )
    intro = text.split("\n## ", 1)[0].split("\n", 1)[1]
    assert len(intro.split()) >= 40, f"{contract}.md: the intro before '## Surface' says too little"
    assert "(README.md#vocabulary)" in text, f"{contract}.md does not link the common vocabulary"


def test_index_lists_every_contract() -> None:
    index = (CONTRACT_DIR / "README.md").read_text(encoding="utf-8")
    for contract in CONTRACTS.values():
        assert f"]({contract.name}.md)" in index, f"contract/README.md does not link {contract.name}.md"
        assert contract.section in index, f"contract/README.md does not name {contract.section}"
    for term in ("MUST", "SHOULD", "non-strict", "not claimed", "*required*", "*optional", "*stress*", "Open choices"):
        assert term in index, f"contract/README.md does not explain {term!r}"


# -- what the text mentions exists ----------------------------------------------


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_mentioned_rules_and_choices_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    unknown_rules = sorted(set(RULE_MENTION.findall(text)) - set(RULES))
    assert not unknown_rules, f"{_rel(path)} mentions rules the catalogue does not declare: {unknown_rules}"
    prefixes = {p for c in CONTRACTS.values() for p in (c.prefix, *c.profiles)}
    mentioned = {m for m in CHOICE_MENTION.findall(text) if m.split("/", 1)[0] in prefixes}
    unknown_choices = sorted(mentioned - set(CHOICES))
    assert not unknown_choices, f"{_rel(path)} mentions open choices the catalogue does not declare: {unknown_choices}"


@pytest.mark.parametrize("path", DOCS, ids=_rel)
def test_links_resolve_inside_the_repository(path: Path) -> None:
    prose = _prose(path.read_text(encoding="utf-8"))
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    assert targets, f"no link found in {_rel(path)}: the link pattern no longer matches"
    broken = []
    for target in targets:
        file_part = target.split("#", 1)[0]
        if not file_part:
            continue  # an anchor in the same file
        if re.match(r"^[a-z][a-z0-9+.-]*:", file_part):
            broken.append(f"{target} (outside the repository)")
            continue
        resolved = (path.parent / file_part).resolve()
        if not resolved.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif not resolved.exists():
            broken.append(f"{target} (no such file)")
    assert not broken, f"{_rel(path)} has links that do not resolve inside the repository: {broken}"


def test_rule_locations_point_at_shipped_files() -> None:
    for rule in RULES.values():
        file = ROOT / rule.where.split("#", 1)[0]
        assert file.is_file(), f"{rule.id}: {rule.where} does not exist"
        assert f"### {rule.id} — " in file.read_text(encoding="utf-8"), f"{rule.id}: not a heading of {file.name}"


# -- the CLI prints the text ----------------------------------------------------


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("rule_id", ["LC-05", "LC-17"])
def test_rules_command_prints_the_rule(rule_id: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", rule_id]) == 0
    out = _flat(capsys.readouterr().out)
    rule = RULES[rule_id]
    # LC-05 is the example of a rule with both levels; LC-17 of one that observes open choices.
    assert rule.should is not None or rule_id != "LC-05", "LC-05 lost its SHOULD paragraph"
    assert any(rule_id in c.rules for c in CHOICES.values()) or rule_id != "LC-17", "LC-17 observes no open choice"
    assert _flat(rule.must) in out, f"`pytest-lifecycle rules {rule_id}` does not print the MUST"
    if rule.should is not None:
        assert _flat(rule.should) in out, f"`pytest-lifecycle rules {rule_id}` does not print the SHOULD"
    assert "**Origin** —" in out, f"`pytest-lifecycle rules {rule_id}` does not print the Origin"
    for choice in CHOICES.values():
        if rule_id in choice.rules:
            assert choice.id in out, f"`pytest-lifecycle rules {rule_id}` does not print open choice {choice.id}"
            for branch, text in choice.branches.items():
                assert f"{branch}: {_flat(text)}" in out, f"{choice.id}: branch {branch!r} not printed"


def test_rules_command_names_what_exists_for_an_unknown_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "LC-99"]) == 4
    err = capsys.readouterr().err
    assert "'LC-99'" in err and "LC-01 … LC-17" in err, err


# -- the text ships, and nothing points at the brief ----------------------------


def test_contract_text_is_package_data() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = pyproject["tool"]["setuptools"]["package-data"]["pytest_lifecycle"]
    assert "contract/*.md" in declared and "py.typed" in declared, declared
    package = ROOT / "pytest_lifecycle"
    shipped = {p for pattern in declared for p in package.glob(pattern)}
    assert set(CONTRACT_FILES) <= shipped
    assert (package / "py.typed").is_file()


#: The product brief and the incident records the contract was written from
#: are not part of the project; the contract text replaces every citation.
#: (Built by concatenation so that this file does not cite them itself.)
FORBIDDEN = tuple("".join(parts) for parts in (("CONTRACTS", ".md"), ("seeds", "/"), ("../", "shared")))
SCANNED = ["README.md", "pytest_lifecycle", "conformance", "reference_impl", "tests"]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".rst", ".json", ".yaml", ".yml"}


def _scanned_files() -> list[Path]:
    files: list[Path] = []
    for name in SCANNED:
        top = ROOT / name
        candidates = [top] if top.is_file() else sorted(top.rglob("*"))
        files += [p for p in candidates if p.is_file() and p.suffix in TEXT_SUFFIXES and "__pycache__" not in p.parts]
    return files


def test_nothing_cites_the_brief_or_the_seeds() -> None:
    hits = []
    for path in _scanned_files():
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            if any(word in line for word in FORBIDDEN):
                hits.append(f"{_rel(path)}:{n}: {line.strip()[:100]}")
    assert not hits, (
        f"{len(hits)} lines cite the brief or the seeds instead of the contract text "
        f"(cite e.g. 'LC-05 (§1a)'):\n" + "\n".join(hits[:40])
    )


def test_scan_sees_the_project() -> None:
    # A scan that silently reads nothing would pass the test above.
    names = {_rel(p) for p in _scanned_files()}
    assert {"README.md", "pytest_lifecycle/_core/catalogue.py", "tests/test_contract_text.py"} <= names
