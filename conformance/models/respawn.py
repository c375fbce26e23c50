"""The sequential model of a respawn manager (§1b): what each respawn must answer and leave behind.

Resources are keyed ``(name, workspace)``.  The model keeps which keys are
installed (and protected), the state each may report, and the respawns
running or queued per key; :meth:`RespawnModel.respawn` says what one
respawn must do:

- RS-01 (§1b): a key not installed is refused — ``ok=False``, an error
  naming the resource and the workspace, no source call, no state change;
- RS-02 (§1b): a protected key is refused before any source call;
- RS-03 (§1b): a start that raises leaves ``"dead"`` and answers
  ``ok=False`` with the error; a respawn never raises;
- RS-04 (§1b): otherwise ``remove_source`` then ``start_source``, the state
  ``"starting"`` while the start runs, ``"running"`` once it returned;
- RS-05/RS-06 (§1b): respawns of one key run one at a time in call order,
  respawns of different keys never wait for each other (:meth:`queue`);
- RS-07 (§1b): the lock table holds an entry for a key exactly while a
  respawn of it runs or is queued (:meth:`lock_table_size`); a failed one
  gives up its turn.

No rule says which state ``install`` sets: until its first respawn an
installed key may report any state (:data:`STATES`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

__all__ = ["STATES", "Expected", "Key", "RespawnModel"]

Key = tuple[str, str]
#: Every state ``state()`` may report for an installed key.
STATES = frozenset({"starting", "running", "dead", "stopped"})


@dataclass(frozen=True)
class Expected:
    """What one respawn must do, by the contract."""

    #: ``result.ok``.
    ok: bool
    #: The source calls it makes, in order (``("remove", "start")`` or none).
    sources: tuple[str, ...]
    #: The states ``state()`` may report once it returned.
    states_after: frozenset[str | None]
    #: Words the error must contain (RS-01: the resource and the workspace).
    error_names: tuple[str, ...] = ()
    #: The rule that decides the outcome.
    rule: str = "RS-04"


@dataclass
class _Resource:
    protected: bool
    states: frozenset[str | None] = STATES


@dataclass
class RespawnModel:
    """Installed keys, their states and the respawns of each key in flight."""

    resources: dict[Key, _Resource] = field(default_factory=dict)
    #: Per key, the respawns running (the first) or queued behind it, by caller id, in call order.
    queues: dict[Key, deque[Hashable]] = field(default_factory=dict)

    def install(self, key: Key, *, protected: bool = False) -> None:
        self.resources[key] = _Resource(protected)

    def states(self, key: Key) -> frozenset[str | None]:
        """What ``state(*key)`` may report now: ``None`` only when not installed (RS-01)."""
        resource = self.resources.get(key)
        return frozenset({None}) if resource is None else resource.states

    def respawn(self, key: Key, *, start_fails: bool = False) -> Expected:
        """A respawn of *key* that ran alone; *start_fails*: its ``start_source`` raises."""
        resource = self.resources.get(key)
        if resource is None:
            return Expected(False, (), frozenset({None}), error_names=key, rule="RS-01")
        if resource.protected:
            return Expected(False, (), resource.states, rule="RS-02")
        resource.states = frozenset({"dead" if start_fails else "running"})
        if start_fails:
            return Expected(False, ("remove", "start"), resource.states, rule="RS-03")
        return Expected(True, ("remove", "start"), resource.states)

    def start_calls(self, key: Key) -> bool:
        """Whether a respawn of *key* reaches ``start_source`` (RS-01, RS-02: refusals call no source)."""
        resource = self.resources.get(key)
        return resource is not None and not resource.protected

    # -- queues (RS-05, RS-06, RS-07) ------------------------------------------

    def queue(self, key: Key, caller: Hashable) -> bool:
        """*caller* respawns *key*; ``True`` when it runs at once, ``False`` when it waits its turn (RS-05).

        Only respawns of the same key wait for each other (RS-06).
        """
        waiting = self.queues.setdefault(key, deque())
        waiting.append(caller)
        return len(waiting) == 1

    def done(self, key: Key) -> Hashable | None:
        """The running respawn of *key* returned, whatever its outcome (RS-07: a failure gives up its turn).

        :returns: the caller whose respawn runs next, in call order (RS-05), or ``None``.
        """
        waiting = self.queues[key]
        waiting.popleft()
        if not waiting:
            del self.queues[key]  # RS-07: no entry once the last one finished
            return None
        return waiting[0]

    def lock_table_size(self) -> int:
        """RS-07 (§1b): one entry per key with a respawn running or queued."""
        return len(self.queues)
