"""Alternate reading of §4: an in-memory registry whose subscribers read the log itself.

Written from the contract text alone, it differs from the reference where
the contract leaves room:

- ST/attach ``at-first-read``: ``subscribe()`` checks the stream at the call
  (a deleted stream raises there) but returns an async generator: nothing is
  attached until the first read, which fixes the subscriber's view of the
  history.  There is no per-subscriber queue at all: each read scans the
  stream's log for the next cursor above its position, and waits on a
  "changed" event when there is none -- so no subscriber can take another's
  events, and ``after`` filters history and live events alike.
- No tombstones (the capability is not claimed): ``delete`` forgets the
  stream, and ``get`` then raises *not found*.
- A closed stream becomes gone once its *last event* expired (the reference
  waits for its close to expire); a closed stream without events, once its
  close did.
- The exception classes are named by the registry's ``not_found_error``,
  ``gone_error`` and ``closed_error`` attributes, not by provider options.
- Not durable: nothing is written; a new instance starts empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from pytest_lifecycle import Provider

CHOICES = {"ST/attach": "at-first-read"}


class NoSuchStream(KeyError):
    """No stream with this id."""


class StreamExpired(Exception):
    """A closed stream whose events all expired."""


class StreamIsClosed(RuntimeError):
    """Emit after close."""


class _Log:
    def __init__(self, owner: Registry, name: str) -> None:
        self.owner = owner
        self.name = name
        self.records: list[tuple[int, Any, float]] = []  # (cursor, payload, time)
        self.closed_at: float | None = None
        self.deleted = False
        self.changed = asyncio.Event()

    # -- state -----------------------------------------------------------------

    def _touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def expired(self) -> bool:
        if self.closed_at is None or self.owner.ttl is None:
            return False
        newest = self.records[-1][2] if self.records else self.closed_at
        return self.owner.clock() - newest > self.owner.ttl

    def _alive(self) -> None:
        if self.deleted:
            raise NoSuchStream(self.name)
        if self.expired():
            raise StreamExpired(f"stream {self.name!r} expired")

    # -- surface ---------------------------------------------------------------

    async def emit(self, payload: Any, *, close: bool = False) -> None:
        self._alive()
        if self.closed_at is not None:
            raise StreamIsClosed(f"stream {self.name!r} is closed")
        cursor = self.owner.cursor_fn(payload)
        if type(cursor) is not int:
            raise TypeError(f"cursor {cursor!r} is not an int")
        if self.records and cursor <= self.records[-1][0]:
            raise ValueError(f"cursor {cursor} does not follow {self.records[-1][0]}")
        now = self.owner.clock()
        self.records.append((cursor, payload, now))
        if close:
            self.closed_at = now
        self._touch()

    async def close(self) -> None:
        self._alive()
        if self.closed_at is None:
            self.closed_at = self.owner.clock()
            self._touch()

    async def last_cursor(self) -> int | None:
        self._alive()
        return self.records[-1][0] if self.records else None

    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Any]:
        self._alive()  # at the call: a deleted stream raises here
        if after is not None and type(after) is not int:
            raise TypeError(f"after={after!r} is not an int")
        return self._follow(after)

    async def _follow(self, position: int | None) -> AsyncIterator[Any]:
        # Attached now, at the first read: what expired by now is not replayed.
        horizon = self.owner.clock() - self.owner.ttl if self.owner.ttl is not None else None
        index = 0
        while True:
            while index < len(self.records):
                cursor, payload, at = self.records[index]
                index += 1
                if position is not None and cursor <= position:
                    continue
                position = cursor
                if horizon is not None and at < horizon:
                    continue  # older than the TTL when this subscriber attached
                yield payload
            if self.closed_at is not None or self.deleted:
                return
            await self.changed.wait()


class Registry:
    not_found_error = NoSuchStream
    gone_error = StreamExpired
    closed_error = StreamIsClosed

    def __init__(self, cursor_fn: Callable[[Any], int], ttl: float | None, clock: Callable[[], float]) -> None:
        self.cursor_fn = cursor_fn
        self.ttl = ttl
        self.clock = clock
        self.logs: dict[str, _Log] = {}

    async def get_or_create(self, name: str) -> _Log:
        log = self.logs.get(name)
        if log is None or log.expired():
            log = self.logs[name] = _Log(self, name)
        return log

    async def get(self, name: str) -> _Log:
        log = self.logs.get(name)
        if log is None:
            raise NoSuchStream(name)
        log._alive()
        return log

    async def delete(self, name: str) -> None:
        log = self.logs.pop(name, None)
        if log is not None:
            log.deleted = True
            log._touch()


def factory(ctx: Any) -> Registry:
    return Registry(ctx.cursor_fn, ctx.ttl_seconds, ctx.clock)


provider = Provider("alt-pull-from-log", event_streams=factory)
