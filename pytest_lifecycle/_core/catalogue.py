"""The rule catalogue: every contract, rule and open choice, declared exactly once.

The normative text lives in the package, one Markdown file per contract
(``pytest_lifecycle/contract/<contract>.md``): per rule its MUST, its
SHOULD, where it comes from, and per contract the open choices.  This module
reads those files, so the catalogue and the text users read cannot drift.
Tests cite a rule with ``@pytest.mark.rule("LC-05")`` (``level="should"`` for
a test that checks only the rule's SHOULD), failure messages start with
``[LC-05]`` and reports group by ID -- all of them look the rule up here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Final, Literal

__all__ = [
    "CHOICES",
    "CONTRACTS",
    "LEVELS",
    "RULES",
    "Choice",
    "Contract",
    "Rule",
    "RuleKind",
    "UnknownChoiceError",
    "UnknownRuleError",
    "contract_text",
    "get_choice",
    "get_rule",
    "rule_marker",
    "rules_for",
]

#: ``required`` rules are MUSTs; ``optional`` ones apply only when their
#: capability is claimed; ``stress`` rules can find bugs but never prove
#: their absence, so they are reported separately.
RuleKind = Literal["required", "optional", "stress"]

#: A MUST is what no correct implementation may break; a SHOULD is good
#: practice whose absence costs time or money but loses nothing.  A broken
#: SHOULD is reported ``non-strict`` and fails the run only in strict mode.
Level = Literal["must", "should"]
LEVELS: Final = ("must", "should")

RULE_ID: Final = re.compile(r"^[A-Z]{2,3}-\d{2}$")
CHOICE_ID: Final = re.compile(r"^[A-Z]{2,3}/[a-z0-9-]+$")


@dataclass(frozen=True, slots=True)
class Contract:
    """One contract of the brief."""

    #: Provider keyword and conformance module name, e.g. ``session_lifecycle``.
    name: str
    #: Rule-ID prefix, e.g. ``LC``.
    prefix: str
    #: Human title.
    title: str
    #: Section number of the contract text, e.g. ``§1a``.
    section: str
    #: Optional capabilities a provider may claim for this contract.
    capabilities: tuple[str, ...] = ()
    #: Rule-ID prefixes of the contract's wire profiles, e.g. ``SSE``.
    profiles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a contract."""

    id: str
    contract: str
    kind: RuleKind
    text: str
    #: The optional capability the rule needs (``None``: the contract alone).
    capability: str | None = None
    #: What no correct implementation may break.
    must: str = ""
    #: Good practice beyond the MUST (``None``: the rule has none).
    should: str | None = None
    #: The rule's whole section of the contract text (Markdown).
    full_text: str = ""

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[1])

    @property
    def where(self) -> str:
        """Where the rule's text is: file and anchor inside the package."""
        return f"pytest_lifecycle/contract/{self.contract}.md#{self.id.lower()}"


@dataclass(frozen=True, slots=True)
class Choice:
    """An open choice: behaviours the contract allows side by side.

    The kit accepts every branch; the report says which one a provider took.
    """

    id: str
    contract: str
    text: str
    #: The rules whose tests observe the choice.
    rules: tuple[str, ...]
    #: Branch name → what a provider that takes it does.
    branches: Mapping[str, str] = field(default_factory=dict)


class UnknownRuleError(KeyError):
    """A rule ID that the catalogue does not declare."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(rule_id)
        self.rule_id = rule_id

    def __str__(self) -> str:
        prefix = self.rule_id.split("-", 1)[0]
        known = [r for r in RULES if r.startswith(prefix + "-")]
        span = f"{known[0]} … {known[-1]}" if known else ", ".join(sorted({r.contract for r in RULES.values()}))
        return f"unknown rule id {self.rule_id!r}\nthe catalogue (pytest_lifecycle._core.catalogue) declares: {span}"


_CONTRACTS = (
    Contract("session_lifecycle", "LC", "Session-memory commit lifecycle", "§1a", ("eviction",)),
    Contract("respawn", "RS", "Resource respawn lifecycle", "§1b"),
    Contract("checkpoint_store", "CK", "Checkpoint races", "§2"),
    Contract("keyed_locks", "LK", "Lock rotation", "§3"),
    Contract("event_streams", "ST", "Stream resume", "§4", ("durable", "tombstones", "sse"), profiles=("SSE",)),
)

#: Contract name → contract.
CONTRACTS: Final[Mapping[str, Contract]] = {c.name: c for c in _CONTRACTS}

_SECTION = re.compile(r"^### (?P<id>\S+) — (?P<title>.+)$", re.M)
_KIND = re.compile(r"^\*(?P<kind>required|optional|stress)(?:: (?P<cap>[a-z_-]+))?\*$", re.M)
_PARAGRAPH = r"^\*\*{}\*\* — (?P<text>.+?)(?=\n\n|\Z)"
_BRANCH = re.compile(r"^- `(?P<name>[a-z0-9-]+)` — (?P<text>.+)$", re.M)


def contract_text(contract: str) -> str:
    """The normative Markdown text of *contract* as shipped in the package."""
    return resources.files("pytest_lifecycle").joinpath("contract", f"{contract}.md").read_text(encoding="utf-8")


def _paragraph(label: str, body: str) -> str | None:
    match = re.search(_PARAGRAPH.format(label), body, re.M | re.S)
    return " ".join(match["text"].split()) if match else None


def _load() -> tuple[tuple[Rule, ...], tuple[Choice, ...]]:
    rules: list[Rule] = []
    choices: list[Choice] = []
    for contract in _CONTRACTS:
        text = contract_text(contract.name)
        sections = list(_SECTION.finditer(text))
        for this, after in zip(sections, [*sections[1:], None]):
            end = after.start() if after else len(text)
            body = text[this.end() : end]
            # A section ends at the next heading of any level.
            body = re.split(r"^#{1,3} ", body, flags=re.M)[0].strip()
            ident, title = this["id"], this["title"].strip()
            if RULE_ID.match(ident):
                kind = _KIND.search(body)
                if kind is None:
                    raise ValueError(f"{contract.name}.md: {ident} has no *required*/*optional: cap*/*stress* line")
                must = _paragraph("MUST", body)
                if must is None:
                    raise ValueError(f"{contract.name}.md: {ident} has no **MUST** paragraph")
                rules.append(
                    Rule(
                        ident,
                        contract.name,
                        kind["kind"],  # type: ignore[arg-type]
                        title,
                        kind["cap"],
                        must=must,
                        should=_paragraph("SHOULD", body),
                        full_text=text[this.start() : this.end()] + "\n\n" + body,
                    )
                )
            elif CHOICE_ID.match(ident):
                listed = re.search(r"^Rules: (.+)$", body, re.M)
                choices.append(
                    Choice(
                        ident,
                        contract.name,
                        title,
                        tuple(r.strip() for r in listed[1].split(",")) if listed else (),
                        {m["name"]: m["text"].strip() for m in _BRANCH.finditer(body)},
                    )
                )
            else:
                raise ValueError(f"{contract.name}.md: heading {ident!r} is neither a rule id nor a choice id")
    return tuple(rules), tuple(choices)


_RULES, _CHOICES = _load()

#: Rule ID → rule, in catalogue order.
RULES: Final[Mapping[str, Rule]] = {r.id: r for r in _RULES}

#: Choice ID → open choice, in catalogue order.
CHOICES: Final[Mapping[str, Choice]] = {c.id: c for c in _CHOICES}


class UnknownChoiceError(KeyError):
    """A choice ID (or branch) that the catalogue does not declare."""

    def __str__(self) -> str:
        return f"{self.args[0]}\nthe catalogue declares: {', '.join(CHOICES) or 'no open choices'}"


def get_choice(choice_id: str, branch: str | None = None) -> Choice:
    """Return the open choice *choice_id*, checking *branch* is one of it.

    :raises UnknownChoiceError: the catalogue declares no such choice or branch.
    """
    choice = CHOICES.get(choice_id)
    if choice is None:
        raise UnknownChoiceError(f"unknown open choice {choice_id!r}")
    if branch is not None and branch not in choice.branches:
        raise UnknownChoiceError(
            f"open choice {choice_id!r} has no branch {branch!r} (it has {', '.join(choice.branches)})"
        )
    return choice


def get_rule(rule_id: str) -> Rule:
    """Return the rule declared under *rule_id*.

    :raises UnknownRuleError: the catalogue does not declare it.
    """
    try:
        return RULES[rule_id]
    except KeyError:
        raise UnknownRuleError(rule_id) from None


def rule_marker(args: tuple[object, ...], kwargs: Mapping[str, object]) -> tuple[str, str]:
    """``(rule_id, level)`` of ``@pytest.mark.rule(ID, level="must"|"should")``, checked.

    :raises UnknownRuleError: the catalogue does not declare the rule.
    :raises ValueError: a malformed marker, an unknown level, or
        ``level="should"`` on a rule that declares no SHOULD.
    """
    if len(args) != 1 or not isinstance(args[0], str) or set(kwargs) - {"level"}:
        raise ValueError(f"expected rule('ID', level='must'|'should'), got args={args!r} kwargs={dict(kwargs)!r}")
    rule = get_rule(args[0])
    level = kwargs.get("level", "must")
    if level not in LEVELS:
        raise ValueError(f"rule {rule.id}: unknown level {level!r}; levels: {', '.join(LEVELS)}")
    if level == "should" and rule.should is None:
        raise ValueError(f"rule {rule.id} declares no SHOULD, so no test can check one")
    return rule.id, str(level)


def rules_for(contract: str) -> list[Rule]:
    """All rules of *contract*, in catalogue order."""
    return [r for r in RULES.values() if r.contract == contract]


def _verify() -> None:
    # The catalogue is data; a typo here would silently untest a rule.
    for r in _RULES:
        assert RULE_ID.match(r.id), r.id
        contract = CONTRACTS[r.contract]
        assert r.id.split("-", 1)[0] in (contract.prefix, *contract.profiles), r.id
        assert (r.kind == "optional") == (r.capability is not None), r.id
        assert r.capability is None or r.capability in contract.capabilities, r.id
    assert len(RULES) == len(_RULES), "duplicate rule id"
    for c in _CHOICES:
        assert c.id.startswith(CONTRACTS[c.contract].prefix + "/"), c.id
        assert len(c.branches) >= 2, f"{c.id}: an open choice has at least two branches"
        assert all(r in RULES for r in c.rules), c.id
    assert len(CHOICES) == len(_CHOICES), "duplicate choice id"


_verify()
