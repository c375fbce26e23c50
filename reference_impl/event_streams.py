"""Reference event-stream registries: the stream-resume contract (ST-01..ST-13).

Two registries share one implementation of the rules:

* :class:`MemoryStreamRegistry` keeps every stream in memory;
* :class:`FileStreamRegistry` (the bundled provider's) backs each stream with
  an append-only log in its directory: ``emit`` returns only once the record
  is fsynced (ST-10), ``close`` appends a terminal record, ``delete`` leaves a
  tombstone, and a new instance on the same directory recovers every stream
  as it was -- a torn last record is dropped, a damaged record in the middle
  is :class:`StreamCorrupt` (ST-11).  One process writes a stream at a time
  (``fcntl.flock`` on its log); a second is refused with :class:`StreamLocked`.

How the rules are kept:

* A subscriber attaches **at the call** (open choice ``ST/attach``):
  ``subscribe()`` takes the history snapshot and registers the subscriber's
  own queue in one step, with no ``await`` in between, so no event falls in a
  gap and no subscriber takes events from another (ST-04).  Every queued
  event is filtered by ``after`` -- history *and* live ones (ST-05).
* ``emit`` appends under the stream's lock and publishes after the record is
  durable; ``emit(x, close=True)`` writes, fsyncs and publishes ``x`` and the
  end in one step (ST-06).
* TTL runs on the injected clock: events older than ``ttl_seconds`` are left
  out of later snapshots; what is queued for a subscriber stays queued; a
  closed stream whose last event expired is gone (ST-09).
* Ids are checked, then encoded into file names that cannot leave the
  directory (ST-12).

Bad input is a clear error: :class:`InvalidStreamId` (an id with ``/``,
``..``, NUL, …), :class:`InvalidCursor` (a payload ``cursor_fn`` cannot
read, a cursor not above the last one, an ``after`` that is not an int),
:class:`InvalidPayload` (a payload the log cannot store).

An instance is used from one event loop at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import re
import threading
import weakref
import zlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol, final

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ERRORS",
    "EventStream",
    "FileStreamRegistry",
    "InvalidCursor",
    "InvalidPayload",
    "InvalidStreamId",
    "MemoryStreamRegistry",
    "StreamClosed",
    "StreamCorrupt",
    "StreamError",
    "StreamGone",
    "StreamLocked",
    "StreamNotFound",
    "StreamRegistry",
    "Subscriber",
    "factory",
    "memory_factory",
]

Payload = Any
CursorFn = Callable[[Payload], int]
Clock = Callable[[], float]
State = Literal["active", "closed", "gone"]


class StreamError(Exception):
    """Base class of every error of the stream registries."""


class StreamNotFound(StreamError, LookupError):
    """No stream has this id (never created, or deleted without a tombstone)."""


class StreamGone(StreamError):
    """The stream was deleted (a tombstone) or all events of a closed stream expired."""


class StreamClosed(StreamError):
    """``emit`` on a closed stream."""


class StreamCorrupt(StreamError):
    """A stream's log is damaged before its last record: refusing to guess."""


class StreamLocked(StreamError):
    """Another process (or a newer instance) writes this stream."""


class InvalidStreamId(StreamError, ValueError):
    """An id that is not a non-empty string free of ``/``, ``\\``, NUL and ``..``."""


class InvalidCursor(StreamError, ValueError):
    """A cursor that cannot be read, is not above the last one, or a malformed ``after``."""


class InvalidPayload(StreamError, ValueError):
    """A payload the log cannot store (not JSON)."""


#: The exception classes the kit needs, by the contract's names for them.
ERRORS: Final = {"not_found": StreamNotFound, "gone": StreamGone, "closed": StreamClosed}

_END: Final = object()


def check_id(stream_id: object) -> str:
    """*stream_id* if it is a usable stream id; :class:`InvalidStreamId` otherwise."""
    if not isinstance(stream_id, str) or not stream_id:
        raise InvalidStreamId(f"a stream id is a non-empty str, got {stream_id!r}")
    bad = [c for c in ("/", "\\", "\x00") if c in stream_id]
    if bad or stream_id in (".", "..") or ".." in stream_id.split("/"):
        raise InvalidStreamId(f"stream id {stream_id!r} contains {', '.join(map(repr, bad)) or repr('..')}")
    if ".." in stream_id:
        raise InvalidStreamId(f"stream id {stream_id!r} contains '..'")
    if len(stream_id) > 512:
        raise InvalidStreamId(f"stream id of {len(stream_id)} characters (at most 512)")
    return stream_id


def check_after(after: object) -> int | None:
    if after is None or (isinstance(after, int) and not isinstance(after, bool)):
        return after
    raise InvalidCursor(f"after= is an int cursor or None, got {after!r} ({type(after).__name__})")


@dataclass(frozen=True, slots=True)
class Event:
    cursor: int
    payload: Payload
    #: Clock time of the emit (TTL).
    at: float


# -- storage ------------------------------------------------------------------------


@dataclass(slots=True)
class Loaded:
    """A stream as its storage knows it."""

    events: list[Event]
    closed: bool
    #: When the stream was closed (clock time), if it is.
    closed_at: float | None = None


class Storage(Protocol):
    """Where a registry keeps its streams (memory: nowhere)."""

    async def lookup(self, stream_id: str) -> Loaded | Literal["gone"] | None: ...
    async def create(self, stream_id: str) -> None: ...
    async def append(self, stream_id: str, events: list[Event], *, close_at: float | None) -> None: ...
    async def close(self, stream_id: str, at: float) -> None: ...
    async def tombstone(self, stream_id: str) -> None: ...


@final
class MemoryStorage:
    """No storage: a registry's streams live and die with it."""

    def __init__(self) -> None:
        self._gone: set[str] = set()

    async def lookup(self, stream_id: str) -> Loaded | Literal["gone"] | None:
        return "gone" if stream_id in self._gone else None

    async def create(self, stream_id: str) -> None:
        self._gone.discard(stream_id)

    async def append(self, stream_id: str, events: list[Event], *, close_at: float | None) -> None:
        return None

    async def close(self, stream_id: str, at: float) -> None:
        return None

    async def tombstone(self, stream_id: str) -> None:
        self._gone.add(stream_id)


# -- streams ------------------------------------------------------------------------


class Subscriber:
    """One ``subscribe()``: its own queue, filled by the stream (ST-04).

    Extension points (the mutant catalogue overrides these):

    - :meth:`wants` -- which events this subscriber delivers (ST-05);
    - :meth:`push` -- a live event from the stream, delivered if wanted;
      :meth:`deliver` queues an event for the reader, :meth:`end` queues the
      end behind what is queued, :meth:`cancel` drops the queue and stops.
    """

    def __init__(self, stream: EventStream, after: int | None, history: list[Event]) -> None:
        self._stream = stream
        self._after = after
        self._queue: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: StreamError | None = None
        self._done = False
        self._queue.extend(e for e in history if self.wants(e))

    def wants(self, event: Event) -> bool:
        """Whether this subscriber delivers *event*: its cursor is above ``after`` (ST-05)."""
        return self._after is None or event.cursor > self._after

    def push(self, event: Event) -> None:
        """A live event: it goes through the same filter as history (ST-05)."""
        if self.wants(event):
            self.deliver(event)

    def deliver(self, event: Event) -> None:
        """Queue *event* for the reader and wake it."""
        self._queue.append(event)
        self._wake()

    def end(self, error: StreamError | None = None) -> None:
        self._queue.append(_END)
        self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Payload:
        while True:
            if self._done:
                raise StopAsyncIteration
            if self._queue:
                item = self._queue.popleft()
                if item is _END:
                    self._done = True
                    self._stream._subscribers.discard(self)
                    if self._error is not None:
                        raise self._error
                    raise StopAsyncIteration
                return item.payload
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def cancel(self) -> None:
        """Stop now: what is queued is dropped and the iteration ends."""
        self._done = True
        self._queue.clear()
        self._stream._subscribers.discard(self)

    async def aclose(self) -> None:
        self.cancel()


class EventStream:
    """One append-only stream of a registry.

    Extension points (the mutant catalogue overrides these):

    - :attr:`subscriber_class` -- what :meth:`subscribe` returns (ST-04, ST-05);
    - :meth:`publish` -- how durable events and the end reach the subscribers
      (ST-04, ST-06);
    - the surface itself (``emit``, ``close``, ``subscribe``, ``last_cursor``),
      with :attr:`newest_cursor` and :attr:`newest_at` to read the stream's
      position without a state check.
    """

    subscriber_class: type[Subscriber] = Subscriber

    def __init__(self, registry: StreamRegistry, stream_id: str, loaded: Loaded) -> None:
        self.id: Final = stream_id
        self._registry = registry
        self._events: deque[Event] = deque(loaded.events)
        self._last: int | None = loaded.events[-1].cursor if loaded.events else None
        #: When the newest event was emitted (clock time), kept past its TTL.
        self._last_at: float | None = loaded.events[-1].at if loaded.events else None
        self._closed = loaded.closed
        self._closed_at = loaded.closed_at
        self._gone = False
        self._lock = asyncio.Lock()
        self._subscribers: weakref.WeakSet[Subscriber] = weakref.WeakSet()

    # -- state --------------------------------------------------------------------

    @property
    def newest_cursor(self) -> int | None:
        """The highest cursor emitted (``None`` before the first); no state check."""
        return self._last

    @property
    def newest_at(self) -> float | None:
        """When the newest event was emitted (clock time), even once it expired."""
        return self._last_at

    @property
    def state(self) -> State:
        self._registry._expire(self)
        return "gone" if self._gone else "closed" if self._closed else "active"

    def _expired(self, now: float) -> bool:
        """A closed stream whose events have all expired is gone (ST-09)."""
        ttl = self._registry.ttl_seconds
        # The close comes after the last event: once it is older than the
        # TTL, so is every event.
        return ttl is not None and self._closed_at is not None and now - self._closed_at > ttl

    def _live_history(self) -> list[Event]:
        ttl = self._registry.ttl_seconds
        if ttl is None:
            return list(self._events)
        now = self._registry.clock()
        while self._events and now - self._events[0].at > ttl:
            self._events.popleft()  # never replayed again: drop it
        return list(self._events)

    def _require(self, *, writable: bool = False) -> None:
        if self.state == "gone":
            raise StreamGone(f"stream {self.id!r} is gone")
        if writable and self._closed:
            raise StreamClosed(f"stream {self.id!r} is closed")

    # -- the surface --------------------------------------------------------------

    async def emit(self, payload: Payload, *, close: bool = False) -> int:
        """Append *payload*; return its cursor once it is durable (ST-10)."""
        self._require(writable=True)
        async with self._lock:
            self._require(writable=True)
            cursor = self._registry.cursor_of(payload)
            if self._last is not None and cursor <= self._last:
                raise InvalidCursor(f"stream {self.id!r}: cursor {cursor} is not above the last cursor {self._last}")
            now = self._registry.clock()
            event = Event(cursor, payload, now)
            await self._registry.storage.append(self.id, [event], close_at=now if close else None)
            # Durable: publish the event (and the end) in one step (ST-06).
            self._events.append(event)
            self._last, self._last_at = cursor, now
            if close:
                self._closed, self._closed_at = True, now
            self.publish(list(self._subscribers), [event], end=close)
            return cursor

    async def close(self) -> None:
        """Close the stream; idempotent (ST-01)."""
        self._require()
        async with self._lock:
            self._require()
            if self._closed:
                return
            now = self._registry.clock()
            await self._registry.storage.close(self.id, now)
            self._closed, self._closed_at = True, now
            self.publish(list(self._subscribers), [], end=True)

    def publish(self, subscribers: list[Subscriber], events: list[Event], *, end: bool) -> None:
        """Hand durable *events*, then the end if *end*, to each subscriber (ST-04, ST-06).

        Every subscriber gets every event, each in its own queue, and the end
        only behind the events: nothing queued before a close is lost.
        """
        for subscriber in subscribers:
            for event in events:
                subscriber.push(event)
            if end:
                subscriber.end()

    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Payload]:
        """History with cursor > *after*, then live events, until the stream ends.

        Attaches at the call: the snapshot and the registration are one step.
        """
        after = check_after(after)
        self._require()
        subscriber = self.subscriber_class(self, after, self._live_history())
        if self._closed:
            subscriber.end()
        else:
            self._subscribers.add(subscriber)
        return subscriber

    async def last_cursor(self) -> int | None:
        """The highest cursor emitted, ``None`` before the first (ST-03)."""
        self._require()
        return self._last

    # -- registry side ------------------------------------------------------------

    def _mark_gone(self) -> None:
        self._gone = True
        self._events.clear()
        for subscriber in list(self._subscribers):
            subscriber.end(StreamGone(f"stream {self.id!r} was deleted"))
        self._subscribers.clear()

    def __repr__(self) -> str:
        return f"<EventStream {self.id!r} {self.state} last={self._last}>"


# -- registries ---------------------------------------------------------------------


class StreamRegistry:
    """Streams by id: ``get_or_create``, ``get``, ``delete`` (ST-08).

    Extension points (the mutant catalogue overrides these): :attr:`stream_class`,
    :attr:`check_id` (ST-12), :meth:`create_stream` (the create half of
    ``get_or_create``) and the surface (``get_or_create``, ``get``, ``delete``).
    """

    stream_class: type[EventStream] = EventStream
    #: Refuses ids with ``/``, ``\\``, NUL or ``..`` (ST-12).
    check_id = staticmethod(check_id)

    def __init__(
        self,
        storage: Storage,
        *,
        cursor_fn: CursorFn,
        ttl_seconds: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        import time

        if ttl_seconds is not None and ttl_seconds <= 0:
            raise ValueError(f"ttl_seconds must be positive or None, got {ttl_seconds!r}")
        self.storage: Final = storage
        self.cursor_fn: Final = cursor_fn
        self.ttl_seconds: Final = ttl_seconds
        self.clock: Final[Clock] = clock or time.time
        self._streams: dict[str, EventStream] = {}
        #: Ids whose closed stream expired in memory, tombstone not yet written.
        self._expired: set[str] = set()
        self._lock = asyncio.Lock()

    def cursor_of(self, payload: Payload) -> int:
        try:
            cursor = self.cursor_fn(payload)
        except Exception as exc:
            raise InvalidCursor(
                f"cursor_fn cannot read a cursor from {payload!r}: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(cursor, int) or isinstance(cursor, bool):
            raise InvalidCursor(f"cursor_fn returned {cursor!r} ({type(cursor).__name__}) for {payload!r}, not an int")
        return cursor

    def _expire(self, stream: EventStream) -> None:
        if not stream._gone and stream._expired(self.clock()):
            stream._mark_gone()
            # Its tombstone is written by the next registry call (no I/O here).
            self._expired.add(stream.id)

    async def _settle_expired(self) -> None:
        for stream in list(self._streams.values()):
            self._expire(stream)
        for stream_id in list(self._expired):
            self._expired.discard(stream_id)
            self._streams.pop(stream_id, None)
            await self.storage.tombstone(stream_id)

    async def _find(self, stream_id: str) -> EventStream | Literal["gone"] | None:
        await self._settle_expired()
        stream = self._streams.get(stream_id)
        if stream is not None:
            return stream
        found = await self.storage.lookup(stream_id)
        if found is None or found == "gone":
            return found
        stream = self.stream_class(self, stream_id, found)
        if stream._expired(self.clock()):
            await self.storage.tombstone(stream_id)
            return "gone"
        self._streams[stream_id] = stream
        return stream

    async def get_or_create(self, stream_id: str) -> EventStream:
        """The stream *stream_id*; a fresh, empty one if there is none or it is gone."""
        self.check_id(stream_id)
        async with self._lock:
            found = await self._find(stream_id)
            if isinstance(found, EventStream):
                return found
            return await self.create_stream(stream_id)

    async def create_stream(self, stream_id: str) -> EventStream:
        """A fresh, empty stream *stream_id* in place of none or a gone one.

        ``get_or_create`` calls it under the registry lock, after finding no
        live stream: two first callers cannot both create one (ST-08).
        """
        await self.storage.create(stream_id)
        stream = self.stream_class(self, stream_id, Loaded([], False))
        self._streams[stream_id] = stream
        return stream

    async def get(self, stream_id: str) -> EventStream:
        """The stream *stream_id*; :class:`StreamNotFound` or :class:`StreamGone` otherwise."""
        self.check_id(stream_id)
        async with self._lock:
            found = await self._find(stream_id)
        if found is None:
            raise StreamNotFound(f"no stream {stream_id!r}")
        if found == "gone":
            raise StreamGone(f"stream {stream_id!r} is gone")
        return found

    async def delete(self, stream_id: str) -> None:
        """Delete *stream_id*, leaving a tombstone; idempotent."""
        self.check_id(stream_id)
        async with self._lock:
            found = await self._find(stream_id)
            if found is None or found == "gone":
                return
            async with found._lock:
                await self.storage.tombstone(stream_id)
                del self._streams[stream_id]
                found._mark_gone()


class MemoryStreamRegistry(StreamRegistry):
    """Streams in memory (not durable)."""

    def __init__(self, *, cursor_fn: CursorFn, ttl_seconds: float | None = None, clock: Clock | None = None) -> None:
        super().__init__(MemoryStorage(), cursor_fn=cursor_fn, ttl_seconds=ttl_seconds, clock=clock)


# -- the file-backed storage ----------------------------------------------------------

_SAFE: Final = re.compile(r"[A-Za-z0-9_-]")
LOG_SUFFIX: Final = ".log"
TOMBSTONE_SUFFIX: Final = ".gone"


def file_stem(stream_id: str) -> str:
    """A file name stem for *stream_id*: ``[A-Za-z0-9_-]`` kept, the rest ``%xx`` (no ``/``, no ``.``)."""
    stem = "".join(c if _SAFE.fullmatch(c) else "".join(f"%{b:02x}" for b in c.encode()) for c in stream_id)
    if len(stem) > 200:  # NAME_MAX: a long id keeps a prefix and a digest
        stem = f"{stem[:150]}~{zlib.crc32(stream_id.encode()):08x}{len(stream_id):x}"
    return stem


def encode_record(record: dict[str, Any]) -> bytes:
    """``<crc32 hex> <json>\\n``: a torn or damaged record cannot pass for a whole one."""
    body = json.dumps(record, separators=(",", ":"), allow_nan=False).encode()
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode_log(data: bytes, where: str) -> tuple[list[dict[str, Any]], int]:
    """The records of a log and the length of its whole part.

    The last record may be torn (no newline, bad checksum: a crash mid-write)
    and is left out; a damaged record before it raises :class:`StreamCorrupt`.
    """
    records: list[dict[str, Any]] = []
    offset = 0
    while offset < len(data):
        end = data.find(b"\n", offset)
        line = data[offset : end if end >= 0 else len(data)]
        record = decode_record(line) if end >= 0 else None
        if record is None:
            if end < 0 or end == len(data) - 1:
                break  # torn last record (a crash mid-write): dropped
            raise StreamCorrupt(f"{where}: damaged record at byte {offset} (before the end): refusing to guess")
        records.append(record)
        offset = end + 1
    return records, offset


def decode_record(line: bytes) -> dict[str, Any] | None:
    """The record of one log line (without its newline); ``None`` if it is torn or damaged."""
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        record = json.loads(body)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


@final
class _Log:
    """A stream's open log file: the flock'd descriptor this process writes through."""

    def __init__(self, path: Path, fd: int, key: tuple[int, int]) -> None:
        self.path = path
        self.fd = fd
        self.key = key

    def close(self) -> None:
        with _HELD_LOCK:
            if _HELD.get(self.key) is self:
                del _HELD[self.key]
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at interpreter exit the module may be half gone
            self.close()


#: Logs this process holds, by (device, inode): a new instance on the same
#: directory (a restart) takes them over from the instance it replaces.
_HELD: dict[tuple[int, int], _Log] = {}
_HELD_LOCK: Final = threading.RLock()  # a _Log collected while held closes itself


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStorage:
    """One append-only log per stream under *directory*, and tombstones.

    ``<stem>.log`` holds the records ``{"c": cursor, "t": time, "p": payload}``
    and, once closed, a terminal ``{"close": time}``; ``<stem>.gone`` is a
    tombstone.  File work runs in a thread (``asyncio.to_thread``), so the
    loop is never blocked by an fsync.

    Extension points (the mutant catalogue overrides these): :meth:`paths_of`
    (ST-12), :meth:`claim_writer` and :meth:`drop_torn_tail` (ST-11),
    :meth:`sync_log` (ST-10), :attr:`decode` (ST-11) and the storage surface
    (``lookup``, ``append``, ``close``, ...).
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._logs: dict[str, _Log] = {}

    def paths_of(self, stream_id: str) -> tuple[Path, Path]:
        """The log and the tombstone of *stream_id*, inside the directory (ST-12)."""
        stem = file_stem(stream_id)
        return self.directory / (stem + LOG_SUFFIX), self.directory / (stem + TOMBSTONE_SUFFIX)

    def _open(self, stream_id: str, path: Path, *, create: bool) -> _Log:
        flags = os.O_RDWR | os.O_APPEND | (os.O_CREAT if create else 0)
        fd = os.open(path, flags, 0o644)
        with _HELD_LOCK:
            return self._lock_and_keep(stream_id, path, fd)

    def _lock_and_keep(self, stream_id: str, path: Path, fd: int) -> _Log:
        try:
            st = os.fstat(fd)
            key = (st.st_dev, st.st_ino)
            held = _HELD.get(key)
            if held is not None and held.fd >= 0:
                # A crashed instance of this process held it: take it over.
                os.close(fd)
                fd = held.fd
                held.fd = -1
            else:
                self.claim_writer(fd, stream_id, path)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
        log = _Log(path, fd, key)
        _HELD[key] = log
        self._logs[stream_id] = log
        return log

    def claim_writer(self, fd: int, stream_id: str, path: Path) -> None:
        """One writer per stream: refuse a log another process holds (ST-11)."""
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise StreamLocked(
                f"stream {stream_id!r}: {path.name} is written by another process (one writer per stream)"
            ) from None

    #: Reads a log: torn last record dropped, damaged earlier one an error (ST-11).
    decode = staticmethod(decode_log)

    def drop_torn_tail(self, fd: int, whole: int) -> None:
        """Cut the log at *whole* bytes: new records follow whole ones, not a torn one (ST-11)."""
        os.ftruncate(fd, whole)
        os.fsync(fd)

    def _lookup(self, stream_id: str) -> Loaded | Literal["gone"] | None:
        log_path, gone_path = self.paths_of(stream_id)
        if gone_path.exists():
            return "gone"
        if not log_path.exists():
            return None
        log = self._logs.get(stream_id) or self._open(stream_id, log_path, create=False)
        data = os.pread(log.fd, os.fstat(log.fd).st_size, 0)
        records, whole = self.decode(data, str(log_path))
        if whole < len(data):
            self.drop_torn_tail(log.fd, whole)
        events: list[Event] = []
        closed_at: float | None = None
        for record in records:
            if "close" in record:
                closed_at = float(record["close"])
            else:
                events.append(Event(int(record["c"]), record["p"], float(record["t"])))
        return Loaded(events, closed_at is not None, closed_at)

    async def lookup(self, stream_id: str) -> Loaded | Literal["gone"] | None:
        return await asyncio.to_thread(self._lookup, stream_id)

    def _create(self, stream_id: str) -> None:
        log_path, gone_path = self.paths_of(stream_id)
        self._open(stream_id, log_path, create=True)
        # The tombstone goes only once the new log exists (a crash between
        # leaves both: the tombstone wins and the stream stays deleted).
        _fsync_dir(self.directory)
        if gone_path.exists():
            os.unlink(gone_path)
            _fsync_dir(self.directory)

    async def create(self, stream_id: str) -> None:
        await asyncio.to_thread(self._create, stream_id)

    def _write(self, stream_id: str, data: bytes) -> None:
        log = self._logs[stream_id]
        if log.fd < 0:
            raise StreamLocked(f"stream {stream_id!r}: a newer instance on this directory writes it now")
        view = memoryview(data)
        while view:
            view = view[os.write(log.fd, view) :]
        self.sync_log(log.fd)

    def sync_log(self, fd: int) -> None:
        """Make what was appended to the log durable before emit returns (ST-10)."""
        os.fsync(fd)

    async def append(self, stream_id: str, events: list[Event], *, close_at: float | None) -> None:
        try:
            data = b"".join(encode_record({"c": e.cursor, "t": e.at, "p": e.payload}) for e in events)
        except (TypeError, ValueError) as exc:
            raise InvalidPayload(f"stream {stream_id!r}: the payload is not JSON: {exc}") from exc
        if close_at is not None:
            data += encode_record({"close": close_at})
        # One write, one fsync: the event and the end are durable together (ST-06).
        await asyncio.to_thread(self._write, stream_id, data)

    async def close(self, stream_id: str, at: float) -> None:
        await asyncio.to_thread(self._write, stream_id, encode_record({"close": at}))

    def _tombstone(self, stream_id: str) -> None:
        log_path, gone_path = self.paths_of(stream_id)
        fd = os.open(gone_path, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(self.directory)
        log = self._logs.pop(stream_id, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log_path)
        _fsync_dir(self.directory)
        if log is not None:
            log.close()

    async def tombstone(self, stream_id: str) -> None:
        await asyncio.to_thread(self._tombstone, stream_id)


class FileStreamRegistry(StreamRegistry):
    """Streams backed by append-only logs under *directory* (durable)."""

    storage_class: type[FileStorage] = FileStorage

    def __init__(
        self,
        directory: Path | str,
        *,
        cursor_fn: CursorFn,
        ttl_seconds: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        storage = self.storage_class(Path(directory))
        super().__init__(storage, cursor_fn=cursor_fn, ttl_seconds=ttl_seconds, clock=clock)


# -- factories --------------------------------------------------------------------------


class StreamContext(Protocol):
    path: Path

    def clock(self) -> float: ...

    @property
    def cursor_fn(self) -> CursorFn: ...

    @property
    def ttl_seconds(self) -> float | None: ...


def factory(ctx: StreamContext) -> FileStreamRegistry:
    """The bundled provider's registry: file-backed on ``ctx.path``, on ``ctx.clock``."""
    return FileStreamRegistry(ctx.path, cursor_fn=ctx.cursor_fn, ttl_seconds=ctx.ttl_seconds, clock=ctx.clock)


def memory_factory(ctx: StreamContext) -> MemoryStreamRegistry:
    """An in-memory registry on ``ctx.clock`` (``ctx.path`` unused)."""
    return MemoryStreamRegistry(cursor_fn=ctx.cursor_fn, ttl_seconds=ctx.ttl_seconds, clock=ctx.clock)
