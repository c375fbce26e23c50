"""A respawn manager that logs every failure and queues respawns on a chain of events.

Written from the contract (§1b), not from the reference; it reads it
differently in four places, all of which keep every MUST:

- **It logs**, as production managers do: every refused respawn and every
  failed start is a ``logging`` warning.  What pytest's log capture keeps of
  them is the harness' memory, not the manager's (RS-07's churn must not
  count it).
- **Refusals do not queue.**  Not installed (RS-01) or protected (RS-02) is
  judged when ``respawn`` is called, before it takes a place in line: a
  refused respawn never waits and never enters the lock table.  It is judged
  again when its turn comes (protection may have been set meanwhile).
- **"stopped" during the teardown.**  The state is ``"stopped"`` while
  ``remove_source`` runs and ``"starting"`` only once ``start_source`` is
  next (RS-04 asks for ``"starting"`` inside ``start_source``, nothing
  about the teardown).
- **The line is a chain of events** (a CLH queue): each respawn of a key
  waits for the event of the one called before it and sets its own when it
  is done; the lock table counts the members of each key's line and drops
  the key when the last one leaves (RS-05, RS-07).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from pytest_lifecycle import Provider

CHOICES: dict[str, str] = {}

Key = tuple[str, str]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    error: str | None = None


@dataclass(slots=True)
class _Resource:
    state: str
    protected: bool


class _Link:
    """One respawn's place in its key's line."""

    __slots__ = ("abandoned", "before", "done")

    def __init__(self, before: _Link | None) -> None:
        self.before = before
        self.done = threading.Event()
        self.abandoned = False

    def wait_turn(self) -> None:
        """Wait until every respawn called earlier for the key has finished."""
        before = self.before
        while before is not None:
            before.done.wait()
            # One that gave up its place set its event early: wait for its predecessor instead.
            before = before.before if before.abandoned else None
        self.before = None  # a finished chain is not kept alive by its successors


class _Line:
    __slots__ = ("members", "tail")

    def __init__(self) -> None:
        self.tail: _Link | None = None
        self.members = 0


class EventChainRespawner:
    def __init__(self, remove_source: Callable[[Key], object], start_source: Callable[[Key], object]) -> None:
        self._remove_source = remove_source
        self._start_source = start_source
        self._mutex = threading.Lock()
        self._resources: dict[Key, _Resource] = {}
        self._lines: dict[Hashable, _Line] = {}

    def install(self, name: str, workspace: str, *, protected: bool = False) -> None:
        with self._mutex:
            resource = self._resources.get((name, workspace))
            if resource is None:
                self._resources[(name, workspace)] = _Resource("running", protected)
            else:
                resource.protected = protected

    def state(self, name: str, workspace: str) -> str | None:
        with self._mutex:
            resource = self._resources.get((name, workspace))
            return None if resource is None else resource.state

    def lock_table_size(self) -> int:
        with self._mutex:
            return len(self._lines)

    def respawn(self, name: str, workspace: str) -> Outcome:
        key = (name, workspace)
        refusal = self._refusal(key)
        if refusal is not None:
            return refusal
        with self._mutex:
            line = self._lines.get(key)
            if line is None:
                line = self._lines[key] = _Line()
            link = line.tail = _Link(line.tail)
            line.members += 1
        try:
            try:
                link.wait_turn()
            except BaseException:
                link.abandoned = True  # the next one waits for our predecessor instead
                raise
            return self._refusal(key) or self._restart(key)
        finally:
            link.done.set()
            with self._mutex:
                line.members -= 1
                if line.members == 0:
                    del self._lines[key]

    def _refusal(self, key: Key) -> Outcome | None:
        name, workspace = key
        with self._mutex:
            resource = self._resources.get(key)
            if resource is None:
                reason = f"{name!r} is not installed in workspace {workspace!r}"
            elif resource.protected:
                reason = f"{name!r} in workspace {workspace!r} is protected; its source stays as it is"
            else:
                return None
        log.warning("respawn refused: %s", reason)
        return Outcome(False, reason)

    def _restart(self, key: Key) -> Outcome:
        name, workspace = key
        final, step = "dead", "remove"
        try:
            self._set(key, "stopped")
            self._remove_source(key)
            step = "start"
            self._set(key, "starting")
            self._start_source(key)
            final = "running"
            return Outcome(True)
        except Exception as exc:  # RS-03: a failure is a result, never a raise
            error = f"{step} of {name!r} in workspace {workspace!r} failed: {type(exc).__name__}: {exc}"
            log.warning("respawn failed, the resource is dead: %s", error)
            return Outcome(False, error)
        finally:
            self._set(key, final)

    def _set(self, key: Key, state: str) -> None:
        with self._mutex:
            self._resources[key].state = state


provider = Provider(
    "alt-respawn-logging-event-chain",
    respawn=lambda ctx: EventChainRespawner(ctx.remove_source, ctx.start_source),
)
