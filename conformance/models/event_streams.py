"""The sequential model of event streams (§4): the lives of a stream id, their events, what a read may yield.

A stream id lives from the ``get_or_create`` that made it to its deletion
or expiry; each life (:class:`Incarnation`) has its events in cursor order
(:class:`Ev`) and the time it was closed.  What the contract requires of a
subscriber, by the model:

- ST-04/ST-05 (§4): it yields the events after its position, in order,
  none twice and none skipped — :func:`candidates`;
- ST-06/ST-07 (§4): a read waits while nothing is left on an active stream,
  and ends once a closed stream has nothing left;
- ST-09 (§4): an event that expired before the subscriber attached is never
  delivered, one that has not expired must be, one in between may be —
  :func:`classify`.  When a subscriber attaches is the open choice
  ``ST/attach`` (``at-call`` or ``at-first-read``): the model answers
  ``at-call`` for an event whose fate depends on it until told the branch;
- a closed stream whose last event expired but whose close did not yet is
  either closed or gone (:meth:`Incarnation.expiry` says ``open``).

ST-13 (§4) is this model against a provider under random steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Ev", "Incarnation", "candidates", "classify", "state_of"]


@dataclass
class Ev:
    """An emitted event: its cursor, when it was emitted, its payload, and the stream's TTL (ST-09)."""

    seq: int
    at: float
    payload: dict[str, Any]
    ttl: float

    @property
    def expires(self) -> float:
        return self.at + self.ttl


@dataclass
class Incarnation:
    """One life of a stream id: from the get_or_create that made it to its deletion."""

    number: int
    #: How long an event (and a close) is kept (ST-09): the ``ttl_seconds`` the factory was given.
    ttl: float
    events: list[Ev] = field(default_factory=list)
    closed_at: float | None = None
    deleted: bool = False

    @property
    def last(self) -> int | None:
        return self.events[-1].seq if self.events else None

    def expiry(self, now: float) -> str:
        """``live``, ``open`` (closed or gone: the contract allows both) or ``expired``."""
        if self.closed_at is None:
            return "live"
        sure = self.closed_at + self.ttl
        # A closed stream is gone once all its events expired: with none,
        # vacuously at once; the latest reading is the expiry of its close.
        maybe = self.events[-1].expires if self.events else self.closed_at
        return "expired" if now > sure else "open" if now > maybe else "live"


def state_of(life: Incarnation | None, now: float) -> str:
    """``never``, ``deleted``, ``expired``, ``open`` (closed or gone), ``closed`` or ``active``."""
    if life is None:
        return "never"
    if life.deleted:
        return "deleted"
    expiry = life.expiry(now)
    if expiry != "live":
        return expiry
    return "closed" if life.closed_at is not None else "active"


def candidates(life: Incarnation, position: int | None) -> list[Ev]:
    """ST-05 (§4): the events a subscriber at *position* may still get, in order (``None``: from the start)."""
    return [e for e in life.events if position is None or e.seq > position]


def classify(e: Ev, *, called_at: float, first_read_at: float | None, now: float, attach: str | None) -> str:
    """ST-09 (§4): whether a subscriber must, may or must never get *e*: ``must``, ``may``, ``at-call`` or ``never``.

    ``at-call``: it may get it only if it attached at ``subscribe()`` (open
    choice ``ST/attach``; *attach* is the branch the provider was seen to
    take, ``None`` while unknown).
    """
    if e.expires > now:
        return "must"
    if e.expires < called_at:
        return "never"  # expired before the subscriber existed
    first = first_read_at if first_read_at is not None else now
    if e.expires < first:
        return "never" if attach == "at-first-read" else "at-call"
    return "may"
