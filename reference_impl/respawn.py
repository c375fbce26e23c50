"""Serialized, per-key respawn of installed resources (contract ``respawn``).

Restarting a running resource (a bundle, a subprocess) after its
configuration changed goes through one helper, :meth:`RespawnManager.respawn`,
which tears the resource down with ``remove_source(key)`` and brings it back
with ``start_source(key)``, where ``key`` is ``(name, workspace)``.

Rules (§1b) and where they live:

- **RS-01** not installed -> refused with a user-shaped error, no source call,
  no state change (:meth:`RespawnManager.admit`).
- **RS-02** protected -> refused before any source call (``admit``).
- **RS-03** a failing source -> state ``"dead"``, ``ok=False`` with the
  exception text; ``respawn`` never raises an ``Exception`` (``restart``,
  ``failure_result``).
- **RS-04** ``"starting"`` is set before ``start_source`` runs, ``"running"``
  after it returns (``admit`` / ``restart``, through ``transition``).
- **RS-05** one FIFO line per key: respawns of a key run one at a time, in
  the order ``respawn`` was called (``turn``, ``enqueue``).
- **RS-06** the manager mutex is held only for bookkeeping, never across a
  source call or a wait, so different keys never wait for each other.
- **RS-07** a line is released in ``finally`` whatever the outcome, and the
  last respawn to leave a key's line removes the key from the lock table
  (``leave_line``, ``retires_line``).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Key", "RespawnContext", "RespawnManager", "RespawnResult", "State", "Ticket", "factory"]

Key = tuple[str, str]
"""``(name, workspace)``: what the sources are called with."""

State = Literal["starting", "running", "dead", "stopped"]
"""``"stopped"`` belongs to the shared vocabulary; nothing here produces it."""

Source = Callable[[Key], object]


class RespawnContext(Protocol):
    """What the factory needs from the kit's context: the two source doubles."""

    def remove_source(self, key: Key, /) -> object: ...

    def start_source(self, key: Key, /) -> object: ...


@dataclass(frozen=True, slots=True)
class RespawnResult:
    """Outcome of one respawn: ``ok``, or ``error`` saying what went wrong."""

    ok: bool
    error: str | None = None


@dataclass(slots=True)
class _Resource:
    state: State
    protected: bool


class _Line:
    """One key's queue of respawns; only the respawn at the head may run.

    Its length doubles as the reference count that decides when the key
    leaves the lock table (RS-07).  ``turn`` shares the manager mutex so
    joining, waiting and leaving are atomic with the table bookkeeping.
    """

    __slots__ = ("queue", "turn")

    def __init__(self, mutex: threading.Lock) -> None:
        self.queue: deque[Ticket] = deque()
        self.turn = threading.Condition(mutex)


@dataclass(frozen=True, eq=False, slots=True)
class Ticket:
    """One respawn's place in its key's line: from :meth:`RespawnManager.wait_turn` to
    :meth:`RespawnManager.leave_line`.  Tickets compare by identity."""

    key: Key
    line: _Line


class RespawnManager:
    """Installed resources, their lifecycle state, and serialized respawns.

    Surface: :meth:`install`, :meth:`state`, :meth:`respawn`, plus
    :meth:`lock_table_size` (and :meth:`queue_depth`) so the kit can check
    RS-07 and drive RS-05 without sleeping.  Thread-safe throughout.

    ``respawn`` is composed of public steps, and each decision of the
    contract is one small method.  Extension points (the mutant catalogue
    overrides these):

    * :meth:`admit` -- refuse (RS-01, RS-02) or admit into ``"starting"``.
    * :meth:`restart` -- the source calls and the recorded outcome (RS-03).
    * :meth:`failure_result` -- what a failed source call returns (RS-03).
    * :meth:`transition` -- every state change (RS-03, RS-04).
    * :meth:`turn`, built on :meth:`wait_turn` and :meth:`leave_line` --
      one respawn of a key at a time (RS-05, RS-07).
    * :meth:`enqueue` -- where a new respawn joins its key's line (RS-05).
    * :meth:`retires_line` -- when a key leaves the lock table (RS-07).
    """

    def __init__(self, remove_source: Source, start_source: Source) -> None:
        self._remove_source = remove_source
        self._start_source = start_source
        # One mutex for all bookkeeping; held only briefly (RS-06).
        self._mutex = threading.Lock()
        self._resources: dict[Key, _Resource] = {}
        self._lines: dict[Key, _Line] = {}

    # -- resources ---------------------------------------------------------

    def install(self, name: str, workspace: str, *, protected: bool = False) -> None:
        """Install a resource as ``"running"``; installing again only updates
        ``protected`` -- it neither restarts the resource nor overwrites the
        state, which may belong to a respawn in progress."""
        key = (name, workspace)
        with self._mutex:
            resource = self._resources.get(key)
            if resource is None:
                self._resources[key] = _Resource(state="running", protected=protected)
            else:
                resource.protected = protected

    def state(self, name: str, workspace: str) -> State | None:
        """Current state, or ``None`` when the resource is not installed."""
        with self._mutex:
            resource = self._resources.get((name, workspace))
            return None if resource is None else resource.state

    def transition(self, key: Key, state: State) -> None:
        """Record ``state`` for an installed resource; nothing happens to one that is not."""
        with self._mutex:
            resource = self._resources.get(key)
            if resource is not None:
                resource.state = state

    # -- respawn -----------------------------------------------------------

    def respawn(self, name: str, workspace: str) -> RespawnResult:
        """Tear down and restart one resource, serialized per key (RS-05).

        Eligibility (RS-01, RS-02) is judged when this respawn's turn comes,
        not when it is queued, so it acts on the state it will really change.
        Never raises an ``Exception``; failures come back as ``ok=False``.
        """
        key = (name, workspace)
        with self.turn(key):
            refusal = self.admit(key)
            return refusal if refusal is not None else self.restart(key)

    def admit(self, key: Key) -> RespawnResult | None:
        """Refuse (RS-01, RS-02) or mark the resource ``"starting"`` (RS-04).

        Called in the key's turn, so no other respawn changes its state
        meanwhile.  ``"starting"`` covers the teardown too: the old instance
        stops being usable the moment ``remove_source`` begins.
        """
        name, workspace = key
        with self._mutex:
            resource = self._resources.get(key)
            protected = resource is not None and resource.protected
        if resource is None:
            return RespawnResult(
                ok=False,
                error=f"Resource {name!r} is not installed in workspace {workspace!r}. Install it first.",
            )
        if protected:
            return RespawnResult(
                ok=False,
                error=f"Resource {name!r} in workspace {workspace!r} is protected "
                "and cannot be respawned; its source was left untouched.",
            )
        self.transition(key, "starting")
        return None

    def restart(self, key: Key) -> RespawnResult:
        """Call the sources (no mutex held: RS-06) and record the outcome.

        Anything short of a clean start leaves the resource ``"dead"``
        (RS-03).  That includes a failed ``remove_source``: the old instance
        is then in an unknown condition and ``start_source`` is skipped, since
        starting next to a half-removed instance could leave two running;
        ``"dead"`` tells the caller a new respawn is needed.
        """
        final: State = "dead"
        step = "stopped"
        try:
            self._remove_source(key)
            step = "started"
            self._start_source(key)
            final = "running"
            return RespawnResult(ok=True)
        except Exception as exc:  # RS-03: any source failure is a result, not a raise
            return self.failure_result(key, step, exc)
        finally:
            # Also on BaseException, so nothing is left "starting" forever.
            self.transition(key, final)

    def failure_result(self, key: Key, step: str, exc: Exception) -> RespawnResult:
        """What a respawn whose source raised returns: ``ok=False``, saying what failed (RS-03)."""
        name, workspace = key
        return RespawnResult(
            ok=False,
            error=f"Resource {name!r} in workspace {workspace!r} could not be "
            f"{step}: {_describe(exc)}. It is now dead; respawn it again once "
            "the cause is fixed.",
        )

    # -- per-key FIFO lock table -------------------------------------------

    @contextmanager
    def turn(self, key: Key) -> Iterator[None]:
        """Hold ``key``'s turn for the body: FIFO per key (RS-05), released
        whatever happens (RS-07)."""
        ticket = self.wait_turn(key)
        try:
            yield
        finally:
            self.leave_line(ticket)

    def wait_turn(self, key: Key) -> Ticket:
        """Join ``key``'s line and wait until this respawn is at its head.

        A plain lock is not FIFO, so each caller queues a ticket and waits on
        the line's condition until its ticket is at the head; waiting
        releases the mutex, so other keys proceed (RS-06).
        """
        with self._mutex:
            line = self._lines.get(key)
            if line is None:
                line = self._lines[key] = _Line(self._mutex)
            ticket = Ticket(key, line)
            self.enqueue(line.queue, ticket)
            try:
                line.turn.wait_for(lambda: line.queue[0] is ticket)
            except BaseException:
                # Interrupted while waiting: give up the place in line.
                self._leave(ticket)
                raise
        return ticket

    def enqueue(self, waiting: deque[Ticket], ticket: Ticket) -> None:
        """Put a new respawn in its key's line: at the back, so the line is FIFO (RS-05)."""
        waiting.append(ticket)

    def leave_line(self, ticket: Ticket) -> None:
        """Give the turn (or the place in line) back: the next ticket may run (RS-05, RS-07)."""
        with self._mutex:
            self._leave(ticket)

    def retires_line(self, waiting: int) -> bool:
        """Whether a key leaves the lock table when a respawn left its line and ``waiting`` remain.

        Only the last one out retires it (RS-07) -- never earlier, or a queued
        respawn would lose its line, and a later caller would start a second one.
        """
        return waiting == 0

    def _leave(self, ticket: Ticket) -> None:
        """Remove ``ticket`` from its line; the caller holds the mutex.

        A departing head wakes the line so the next ticket can run (RS-05).
        """
        line = ticket.line
        was_head = line.queue[0] is ticket
        line.queue.remove(ticket)
        if self.retires_line(len(line.queue)) and self._lines.get(ticket.key) is line:
            del self._lines[ticket.key]
        if line.queue and was_head:
            line.turn.notify_all()

    def lock_table_size(self) -> int:
        """Keys with a respawn running or queued; 0 when all are done (RS-07)."""
        with self._mutex:
            return len(self._lines)

    def queue_depth(self, name: str, workspace: str) -> int:
        """Respawns of this key running or waiting (lets tests gate RS-05)."""
        with self._mutex:
            line = self._lines.get((name, workspace))
            return 0 if line is None else len(line.queue)


def _describe(exc: BaseException) -> str:
    """The exception's message, prefixed by its type so an empty message
    still says something."""
    message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def factory(ctx: RespawnContext) -> RespawnManager:
    """Kit entry point: a fresh manager wired to the kit's source doubles."""
    return RespawnManager(ctx.remove_source, ctx.start_source)
