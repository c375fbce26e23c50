"""The rule catalogue: every contract and every rule, declared exactly once.

This module is the single source of truth for rule IDs.  Tests cite a rule
with ``@pytest.mark.rule("LC-05")``, failure messages start with ``[LC-05]``
and reports group by ID — all of them look the rule up here.  The text of
each rule is the one-line summary of ``CONTRACTS.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal, Mapping

__all__ = [
    "CONTRACTS",
    "RULES",
    "Contract",
    "Rule",
    "RuleKind",
    "UnknownRuleError",
    "get_rule",
    "rules_for",
]

#: ``required`` rules are MUSTs; ``optional`` ones apply only when their
#: capability is claimed; ``stress`` rules can find bugs but never prove
#: their absence, so they are reported separately.
RuleKind = Literal["required", "optional", "stress"]

RULE_ID: Final = re.compile(r"^[A-Z]{2,3}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Contract:
    """One contract of the brief."""

    #: Provider keyword and conformance module name, e.g. ``session_lifecycle``.
    name: str
    #: Rule-ID prefix, e.g. ``LC``.
    prefix: str
    #: Human title.
    title: str
    #: Section of ``CONTRACTS.md``.
    section: str
    #: Optional capabilities a provider may claim for this contract.
    capabilities: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a contract."""

    id: str
    contract: str
    kind: RuleKind
    text: str
    #: The optional capability the rule needs (``None``: the contract alone).
    capability: str | None = None

    @property
    def number(self) -> int:
        return int(self.id.rsplit("-", 1)[1])


class UnknownRuleError(KeyError):
    """A rule ID that the catalogue does not declare."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(rule_id)
        self.rule_id = rule_id

    def __str__(self) -> str:
        prefix = self.rule_id.split("-", 1)[0]
        known = [r for r in RULES if r.startswith(prefix + "-")]
        span = f"{known[0]} … {known[-1]}" if known else ", ".join(sorted({r.contract for r in RULES.values()}))
        return (
            f"unknown rule id {self.rule_id!r}\n"
            f"the catalogue (pytest_lifecycle.catalogue) declares: {span}"
        )


_CONTRACTS = (
    Contract("session_lifecycle", "LC", "Session-memory commit lifecycle", "§1a", ("eviction",)),
    Contract("respawn", "RS", "Resource respawn lifecycle", "§1b"),
    Contract("checkpoint_store", "CK", "Checkpoint races", "§2"),
    Contract("keyed_locks", "LK", "Lock rotation", "§3"),
)

#: Contract name → contract.
CONTRACTS: Final[Mapping[str, Contract]] = {c.name: c for c in _CONTRACTS}

_R = Rule
_RULES = (
    # §1a session_lifecycle
    _R("LC-01", "session_lifecycle", "required", "Falsy session ids are safe no-ops everywhere; no agent is called."),
    _R("LC-02", "session_lifecycle", "required", "A registered session without a completed turn is not committable."),
    _R("LC-03", "session_lifecycle", "required", "Generations strictly increase per session; the session is dirty afterwards."),
    _R("LC-04", "session_lifecycle", "required", "Turns coalesce into one provider call; a commit with nothing new is a no-op."),
    _R("LC-05", "session_lifecycle", "required", "A commit that finishes late never clears work completed while it was in flight."),
    _R("LC-06", "session_lifecycle", "required", "A failed commit returns False, keeps the work dirty and the handle; a retry uses the same agent."),
    _R("LC-07", "session_lifecycle", "required", "An explicit agent passed to a failed commit of un-owned work becomes its owner."),
    _R("LC-08", "session_lifecycle", "required", "Dirty work keeps its owner across a replacement registration."),
    _R("LC-09", "session_lifecycle", "required", "One segment per commit, oldest first, always with its own owner."),
    _R("LC-10", "session_lifecycle", "required", "Unregistering does not make completed work undiscoverable."),
    _R("LC-11", "session_lifecycle", "required", "Shutdown drain waits for an in-flight commit, then flushes what completed meanwhile."),
    _R("LC-12", "session_lifecycle", "required", "Drain honours its deadline even when a provider never returns."),
    _R("LC-13", "session_lifecycle", "required", "wait=False returns False at once while in flight; wait=True waits, bounded by timeout."),
    _R("LC-14", "session_lifecycle", "required", "Provider I/O runs outside the coordinator's lock."),
    _R("LC-15", "session_lifecycle", "optional", "Eviction commits (waiting for in-flight work) before dropping the handle, then closes once.", "eviction"),
    _R("LC-16", "session_lifecycle", "required", "discard_session refuses dirty and in-flight sessions; churn leaves no unbounded growth."),
    _R("LC-17", "session_lifecycle", "required", "Model conformance: every generation committed exactly once, by its owner (state machine)."),
    # §1b respawn
    _R("RS-01", "respawn", "required", "Respawning something not installed fails with an error naming resource and workspace."),
    _R("RS-02", "respawn", "required", "A protected resource refuses respawn; its source is not removed."),
    _R("RS-03", "respawn", "required", "A start failure leaves the state dead, returns ok=False with the error, never raises."),
    _R("RS-04", "respawn", "required", "Success moves through starting (visible inside start_source) to running."),
    _R("RS-05", "respawn", "required", "Concurrent respawns of one key never overlap and run in call order."),
    _R("RS-06", "respawn", "required", "Respawns of different keys never wait for each other."),
    _R("RS-07", "respawn", "required", "A failed respawn does not wedge the queue; the lock table does not leak."),
    # §2 checkpoint_store
    _R("CK-01", "checkpoint_store", "required", "save then load on a restarted store returns the same fields."),
    _R("CK-02", "checkpoint_store", "required", "save(skip_index=True) leaves the index untouched; a full save indexes."),
    _R("CK-03", "checkpoint_store", "required", "touch_updated_at=False keeps updated_at; a default save advances it."),
    _R("CK-04", "checkpoint_store", "required", "Concurrent saves of one session never fail, never share a temp file, leave none behind."),
    _R("CK-05", "checkpoint_store", "required", "Crash atomicity (SIGKILL) and a durable fsync-replace-fsync protocol."),
    _R("CK-06", "checkpoint_store", "required", "The checkpointer saves only after activity; stop() returns within one interval."),
    _R("CK-07", "checkpoint_store", "required", "Every snapshot on disk equals a state that existed at a lock release."),
    _R("CK-08", "checkpoint_store", "required", "A pending user message written before a run survives a restart."),
    _R("CK-09", "checkpoint_store", "required", "After stop() returned the checkpointer writes nothing more."),
    _R("CK-10", "checkpoint_store", "required", "Session ids that could escape the directory are rejected with ValueError."),
    _R("CK-11", "checkpoint_store", "required", "A truncated or corrupt session file is never half-loaded; the index skips it."),
    _R("CK-12", "checkpoint_store", "required", "Concurrent full saves of different sessions never lose an index entry."),
    # §3 keyed_locks
    _R("LK-01", "keyed_locks", "required", "lock_for(k) is lock_for(k) while any holder or waiter exists."),
    _R("LK-02", "keyed_locks", "required", "Mutual exclusion per key: no lost update, at most one inside."),
    _R("LK-03", "keyed_locks", "required", "Different keys are independent."),
    _R("LK-04", "keyed_locks", "required", "Rotation keeps identity: new resolves to the held lock and excludes both ways."),
    _R("LK-05", "keyed_locks", "required", "Rotation works when old was already pruned (no KeyError)."),
    _R("LK-06", "keyed_locks", "required", "No split brain: a late caller on old gets the same lock as callers on new."),
    _R("LK-07", "keyed_locks", "required", "No leak: released and dropped entries disappear; churn stays near baseline."),
    _R("LK-08", "keyed_locks", "required", "Model conformance under random acquire/release/rotate/prune schedules (state machine)."),
    _R("LK-09", "keyed_locks", "stress", "Hammering acquire/rotate/release never shows overlapping critical sections on one logical lock."),
)

#: Rule ID → rule, in catalogue order.
RULES: Final[Mapping[str, Rule]] = {r.id: r for r in _RULES}


def get_rule(rule_id: str) -> Rule:
    """Return the rule declared under *rule_id*.

    :raises UnknownRuleError: the catalogue does not declare it.
    """
    try:
        return RULES[rule_id]
    except KeyError:
        raise UnknownRuleError(rule_id) from None


def rules_for(contract: str) -> list[Rule]:
    """All rules of *contract*, in catalogue order."""
    return [r for r in RULES.values() if r.contract == contract]


def _verify() -> None:
    # The catalogue is data; a typo here would silently untest a rule.
    for r in _RULES:
        assert RULE_ID.match(r.id), r.id
        contract = CONTRACTS[r.contract]
        assert r.id.startswith(contract.prefix + "-"), r.id
        assert (r.kind == "optional") == (r.capability is not None), r.id
        assert r.capability is None or r.capability in contract.capabilities, r.id
    assert len(RULES) == len(_RULES), "duplicate rule id"


_verify()
