"""Reference checkpoint store: the checkpoint-race contract (CK-01..CK-12).

* Every write goes through :meth:`CheckpointStore.write_file` (unique temp
  file, fsync, ``os.replace``, fsync of the directory): after any crash the file is the old
  or the new version, never torn or missing (CK-04, CK-05).
* A save runs entirely under the session's writer lock: each file on disk is a
  state that existed at a lock release, and saves land in lock order (CK-07,
  CK-09).
* The index is its own file, read-modify-written under a store-wide lock, so
  concurrent saves never lose an entry (CK-02, CK-12).
* Nothing is trusted on the way in: ids are allow-listed (CK-10) and files are
  validated field by field before a session is built (CK-11).

Directory layout: ``<session_id>.json`` per session, ``_index.json``, and
``.<name>.<random>.tmp`` files that exist only during a write (or after a
crash mid-write; they are never read).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Protocol, final

__all__ = [
    "INDEX_FILE_NAME",
    "CheckpointStore",
    "Checkpointer",
    "CorruptSessionError",
    "Session",
    "StoreContext",
    "factory",
]

Message = dict[str, Any]

INDEX_FILE_NAME: Final = "_index.json"

# An allow-list, not a deny-list of dangerous characters (CK-10): no separator,
# NUL, space or "..". Ids cannot start with "." (so ".", "..", hidden files and
# our own temp names are out), and 128 characters keep "<id>.json" and its temp
# name well under NAME_MAX.
_SESSION_ID: Final = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
# "_index" would be the index file itself; casefolded for case-insensitive disks.
_RESERVED_IDS: Final = frozenset({Path(INDEX_FILE_NAME).stem})
# How often a checkpointer waiting for the writer lock looks at stop().
_LOCK_POLL_SECONDS: Final = 0.05

_NONE: Final = type(None)
_Schema = Mapping[str, tuple[type, ...]]
#: On-disk session record: field -> accepted JSON types (``bool`` never counts
#: as a number). One table for writing and reading, so a save can never produce
#: a file that load would refuse.
_SESSION_FIELDS: Final[_Schema] = {
    "session_id": (str,),
    "title": (str,),
    "messages": (list,),
    "pending_user_message": (str, _NONE),
    "pending_started_at": (int, float, _NONE),
    "active_stream_id": (str, _NONE),
    "updated_at": (int, float),
}
#: One entry of ``_index.json`` and of :meth:`CheckpointStore.index`.
_INDEX_FIELDS: Final[_Schema] = {
    "session_id": (str,),
    "title": (str,),
    "updated_at": (int, float),
    "message_count": (int,),
}


class StoreContext(Protocol):
    """What :func:`factory` reads from the kit's context (section 0)."""

    @property
    def path(self) -> Path: ...

    @property
    def clock(self) -> Callable[[], float]: ...


class CorruptSessionError(ValueError):
    """A session file exists but is not a whole, valid session (CK-11).

    Raised rather than returning ``None``, which could invite a caller to
    overwrite the damaged file with an empty session.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"corrupt session file {path}: {reason}")
        self.path: Final = path
        self.reason: Final = reason


@final
class Session:
    """One conversation's durable state; built only by :class:`CheckpointStore`.

    Mutate it under ``store.lock_for(session_id)`` so that every checkpoint sees
    whole states (CK-07).
    """

    __slots__ = (
        "_session_id",
        "_store",
        "active_stream_id",
        "messages",
        "pending_started_at",
        "pending_user_message",
        "title",
        "updated_at",
    )

    def __init__(
        self,
        store: CheckpointStore,
        session_id: str,
        *,
        title: str,
        messages: list[Message],
        updated_at: float,
        pending_user_message: str | None = None,
        pending_started_at: float | None = None,
        active_stream_id: str | None = None,
    ) -> None:
        self._store: Final = store
        self._session_id: Final = session_id
        self.title = title
        self.messages = messages
        self.updated_at = updated_at
        self.pending_user_message = pending_user_message
        self.pending_started_at = pending_started_at
        self.active_stream_id = active_stream_id

    @property
    def session_id(self) -> str:
        """Read-only: the id names both the file and the writer lock."""
        return self._session_id

    @property
    def path(self) -> Path:
        """The session's file, ``<store>/<session_id>.json``."""
        return self._store.path_of(self._session_id)

    def save(self, *, skip_index: bool = False, touch_updated_at: bool = True) -> None:
        """Write this session atomically and durably (CK-01, CK-04, CK-05, CK-08).

        :param skip_index: write the session file only; the index keeps its
            previous entry, or none (CK-02). Checkpoints use this.
        :param touch_updated_at: ``False`` keeps ``updated_at`` as is (CK-03).
        :raises OSError: the write failed; the previous file is intact.
        :raises TypeError: a field holds a value the store could not load back.
        """
        self._store.save_session(self, skip_index=skip_index, touch_updated_at=touch_updated_at)


class CheckpointStore:
    """Sessions persisted as one JSON file each in a directory, plus an index.

    A new store over the same directory is a restart: it sees exactly what
    earlier saves made durable (CK-01, CK-08). One live store per directory is
    the supported deployment; the index lock is in-process.

    Extension points (the mutant catalogue overrides these; each is one
    decision of the contract):

    - :meth:`check_session_id` -- which ids are safe file names (CK-10);
    - :meth:`path_of` -- the file of a session id (CK-10);
    - :meth:`session_record` -- what a save writes: every field (CK-01, CK-08);
    - :meth:`save_session` -- one save, under the writer lock (CK-02, CK-03,
      CK-07, CK-09);
    - :meth:`write_file`, built from :meth:`open_temp_file`,
      :meth:`sync_file`, :meth:`discard_temp_file` and
      :meth:`sync_directory` -- the one write path (CK-04, CK-05);
    - :meth:`update_index`, :meth:`read_index`, :meth:`write_index` -- the
      index's read-modify-write under the store-wide lock (CK-12);
    - :meth:`loads_cleanly` -- whether :meth:`index` lists a session (CK-11);
    - :meth:`new_checkpointer` -- the background saver (see :class:`Checkpointer`).
    """

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self._dir: Final = Path(path)
        self._dir.mkdir(parents=True, exist_ok=True)
        self._clock: Final = clock
        self._index_path: Final = self._dir / INDEX_FILE_NAME
        # Never pruned, so "same id, same lock" holds even for a lock that is
        # held but no longer referenced; it grows with the ids this store saw.
        self._locks: Final[dict[str, threading.RLock]] = {}
        self._locks_guard: Final = threading.Lock()
        self._index_lock: Final = threading.Lock()

    def create(self, session_id: str, *, title: str, messages: list[Message]) -> Session:
        """A new in-memory session; nothing reaches disk before :meth:`Session.save`.

        Writing nothing here keeps a session saved only with ``skip_index=True``
        out of the index (CK-02).

        :raises ValueError: ``session_id`` is not a safe file name (CK-10).
        :raises TypeError: ``title`` or ``messages`` could not be saved.
        """
        sid = self.check_session_id(session_id)
        now = float(self._clock())
        session = Session(self, sid, title=title, messages=list(messages), updated_at=now)
        _validated(self.session_record(session, now))
        return session

    def load(self, session_id: str) -> Session | None:
        """The last durable save of ``session_id``, or ``None`` if there is none.

        Pending fields come back too (CK-01, CK-08).

        :raises ValueError: ``session_id`` is not a safe file name (CK-10).
        :raises CorruptSessionError: the file is truncated or malformed (CK-11).
        """
        sid = self.check_session_id(session_id)
        try:
            record = _read_record(self.path_of(sid), sid)
        except FileNotFoundError:
            return None
        # Only the known fields: keys a newer writer added are ignored, not fatal.
        return Session(self, **{name: record[name] for name in _SESSION_FIELDS})

    def index(self) -> list[dict[str, Any]]:
        """One entry per fully saved session, newest first (CK-02, CK-12).

        Entries come from the index file, not from a directory scan, so
        ``skip_index`` saves stay invisible here (CK-02). A session whose file
        no longer loads is skipped (CK-11); checking costs one read per entry.
        """
        with self._index_lock:
            entries = list(self.read_index().values())
        loadable = [entry for entry in entries if self.loads_cleanly(entry["session_id"])]
        return sorted(loadable, key=lambda entry: (-entry["updated_at"], entry["session_id"]))

    def lock_for(self, session_id: str) -> threading.RLock:
        """The writer lock of ``session_id``: the same object for the same id.

        Reentrant, so code that already holds it may call :meth:`Session.save`,
        which takes it too (CK-07).

        :raises ValueError: ``session_id`` is not a safe file name (CK-10).
        """
        sid = self.check_session_id(session_id)
        with self._locks_guard:
            lock = self._locks.get(sid)
            if lock is None:
                lock = self._locks[sid] = threading.RLock()
            return lock

    def start_checkpointer(self, session: Session, *, interval: float) -> Checkpointer:
        """Start saving ``session`` every ``interval`` seconds while it has activity (CK-06).

        :raises ValueError: ``session`` belongs to another store, or
            ``interval`` is not a positive number of seconds.
        """
        if session._store is not self:
            raise ValueError(f"session {session.session_id!r} belongs to another store")
        if not (math.isfinite(interval) and interval > 0):
            raise ValueError(f"checkpoint interval must be positive seconds, got {interval!r}")
        return self.new_checkpointer(session, self.lock_for(session.session_id), interval)

    # -- extension points -----------------------------------------------------------

    def new_checkpointer(self, session: Session, lock: threading.RLock, interval: float) -> Checkpointer:
        """A started :class:`Checkpointer` of ``session``, which takes ``lock`` to save."""
        return Checkpointer(session, lock, interval)

    def check_session_id(self, session_id: object) -> str:
        """``session_id`` if it is a safe file name, else ``ValueError`` (CK-10)."""
        return _check_session_id(session_id)

    def path_of(self, session_id: str) -> Path:
        """The file of a (checked) session id: ``<store>/<session_id>.json``."""
        return self._dir / f"{session_id}.json"

    def session_record(self, session: Session, updated_at: float) -> dict[str, Any]:
        """The on-disk record of ``session``: every field, pending ones included (CK-01, CK-08)."""
        return {
            "session_id": session.session_id,
            "title": session.title,
            "messages": session.messages,
            "pending_user_message": session.pending_user_message,
            "pending_started_at": session.pending_started_at,
            "active_stream_id": session.active_stream_id,
            "updated_at": updated_at,
        }

    def save_session(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        """What :meth:`Session.save` does (its flags: CK-02, CK-03)."""
        sid = session.session_id
        # The whole save, not only the snapshot, runs under the writer lock: the
        # snapshot is a state at a lock release (CK-07), and saves cannot land
        # out of order, so an older snapshot never replaces a newer one (CK-09).
        with self.lock_for(sid):
            previous = session.updated_at
            updated_at = self._next_updated_at(previous) if touch_updated_at else previous
            record = _validated(self.session_record(session, updated_at))
            self.write_file(self.path_of(sid), _encode(record))
            # Only a save that reached disk moves the in-memory timestamp.
            session.updated_at = updated_at
            if not skip_index:
                # Still under the writer lock: index entries of one session land
                # in save order too.
                self.update_index(_index_entry(record))

    def write_file(self, target: Path, data: bytes) -> None:
        """Replace ``target`` with ``data``: old or new after any crash (CK-04, CK-05).

        The one write path for session files and the index. On error the old
        file is untouched, the temp file is removed and the error propagates.
        The ``os`` functions are looked up at call time so that the kit can
        wrap them.
        """
        fd, temp_name = self.open_temp_file(target)
        try:
            try:
                remaining = memoryview(data)
                while remaining:  # os.write may write less than asked
                    remaining = remaining[os.write(fd, remaining) :]
                # Durable before visible: without this fsync a power loss after
                # the rename can leave an empty or partial file under the final name.
                self.sync_file(fd)
            finally:
                os.close(fd)
            os.replace(temp_name, target)
        except BaseException:
            self.discard_temp_file(temp_name)
            raise
        # The rename lives in the directory: until it is fsynced a power loss
        # can bring back the old name. An error here propagates; the new version
        # is visible but not known to be durable.
        self.sync_directory(target.parent)

    def open_temp_file(self, target: Path) -> tuple[int, str]:
        """A new temp file next to ``target``: its descriptor and name (CK-04).

        A fresh name per write, so concurrent saves never share a temp file;
        the same directory, so ``os.replace`` is an atomic rename, never a copy.
        """
        return tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)

    def sync_file(self, fd: int) -> None:
        """Make the data written to ``fd`` durable; an error propagates (CK-05).

        Never retried: after a failed fsync the kernel may have dropped the
        dirty pages, and only writing the file again recovers.
        """
        os.fsync(fd)

    def discard_temp_file(self, temp_name: str) -> None:
        """Remove the temp file of a failed write: none is left behind (CK-04)."""
        with contextlib.suppress(OSError):
            os.unlink(temp_name)

    def sync_directory(self, directory: Path) -> None:
        """Make a rename in ``directory`` durable (CK-05)."""
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def update_index(self, entry: dict[str, Any]) -> None:
        """Put ``entry`` in the index, replacing the session's previous one (CK-02, CK-12).

        A read-modify-write of the whole file under one store-wide lock: two
        sessions saved at once cannot both start from the same old index.
        """
        with self._index_lock:
            entries = self.read_index()
            entries[entry["session_id"]] = entry
            self.write_index(entries)

    def write_index(self, entries: Mapping[str, dict[str, Any]]) -> None:
        """Replace the index file with ``entries``; the caller holds the index lock."""
        self.write_file(self._index_path, _encode(list(entries.values())))

    def loads_cleanly(self, session_id: str) -> bool:
        """Whether :meth:`index` lists ``session_id``: its file loads (CK-11's SHOULD)."""
        try:
            _read_record(self.path_of(session_id), session_id)
        except (OSError, CorruptSessionError):
            return False
        return True

    # -- internals ---------------------------------------------------------------

    def _next_updated_at(self, previous: float) -> float:
        # "A default save advances it" (CK-03) even if the injected clock stood
        # still or stepped back: the clock's value whenever it moved forward,
        # otherwise the smallest float past the previous value.
        return max(float(self._clock()), math.nextafter(previous, math.inf))

    def read_index(self) -> dict[str, dict[str, Any]]:
        """The index by session id; the caller holds the index lock (CK-12)."""
        try:
            raw = self._index_path.read_bytes()
        except FileNotFoundError:
            return {}  # no full save yet (CK-02)
        try:
            entries: object = json.loads(raw)
        except (ValueError, RecursionError):
            entries = None
        if not isinstance(entries, list):
            # Our own writes are atomic, so this is outside damage. Emptying the
            # index would let the next full save drop every other entry (CK-12);
            # rebuild it from the valid session files instead (CK-11).
            return self._rebuild_index()
        return {
            entry["session_id"]: {name: entry[name] for name in _INDEX_FIELDS}
            for entry in entries
            if isinstance(entry, dict)
            and _fields_problem(entry, _INDEX_FIELDS) is None
            and _is_valid_session_id(entry["session_id"])
        }

    def _rebuild_index(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        for path in sorted(self._dir.glob("*.json")):
            sid = path.stem
            if not _is_valid_session_id(sid):
                continue  # the index itself, or a stray file
            with contextlib.suppress(OSError, CorruptSessionError):
                entries[sid] = _index_entry(_read_record(path, sid))
        return entries


class Checkpointer:
    """Saves one session in the background while it streams (CK-06, CK-07, CK-09).

    A tick saves (``skip_index=True``, under the writer lock) only if
    :meth:`notify_activity` was called since the last save: no activity, no
    save; each burst, at least one. The final save is the caller's, after stop.

    Extension points (the mutant catalogue overrides these):

    - :meth:`needs_checkpoint` -- whether a tick saves (CK-06);
    - :meth:`wait_for_writer_lock` -- how a tick waits for the writer lock
      while stop() may be called (CK-06's SHOULD);
    - :meth:`join_worker` -- how stop() waits for the thread (CK-09).
    """

    def __init__(self, session: Session, lock: threading.RLock, interval: float) -> None:
        self._session: Final = session
        self._lock: Final = lock
        self._interval: Final = interval
        self._activity = 0
        self._activity_lock: Final = threading.Lock()
        # Touched only by the worker thread; stop() reads them after join().
        self._saved_activity = 0
        self._saves = 0
        self._stopping: Final = threading.Event()
        # Daemon: a forgotten checkpointer must not keep the interpreter alive.
        name = f"checkpoint:{session.session_id}"
        self._thread: Final = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def notify_activity(self) -> None:
        """Mark the session changed; call it after the mutation's lock release.

        Never takes the writer lock, so a checkpoint in progress cannot stall it.
        """
        with self._activity_lock:
            self._activity += 1

    def stop(self) -> int:
        """Stop, join the thread and return how many saves it made (CK-06, CK-09).

        Idempotent; returns within one interval: the wait between ticks wakes at
        once, and a tick waiting for the writer lock (the caller may hold it)
        gives up. The join is unbounded on purpose: returning while a save is
        still writing would let it overwrite the caller's final save (CK-09).
        """
        self._stopping.set()
        self.join_worker(self._thread)
        return self._saves

    @property
    def interval(self) -> float:
        """Seconds between ticks."""
        return self._interval

    def needs_checkpoint(self, activity: int, saved_activity: int) -> bool:
        """Whether a tick saves: only after activity since the last save (CK-06)."""
        return activity != saved_activity

    def wait_for_writer_lock(self, lock: threading.RLock, stopping: threading.Event) -> bool:
        """Take ``lock``; give up (``False``) once ``stopping`` is set (CK-06's SHOULD).

        The caller of stop() may hold the writer lock: a tick waiting for it
        without looking at ``stopping`` would make stop() wait for that caller.
        """
        while not lock.acquire(timeout=min(self._interval, _LOCK_POLL_SECONDS)):
            if stopping.is_set():
                return False
        return True

    def join_worker(self, worker: threading.Thread) -> None:
        """Wait for the thread to end (CK-09).

        Unbounded on purpose: returning while a save is still writing would
        let it overwrite the caller's final save.
        """
        worker.join()

    def _run(self) -> None:
        # Event.wait rather than sleep: stop() wakes the thread at once.
        while not self._stopping.wait(self._interval):
            try:
                self._checkpoint_if_active()
            except Exception:  # the next tick retries; the caller's final save reports errors
                logging.getLogger(__name__).warning(
                    "checkpoint of session %r failed", self._session.session_id, exc_info=True
                )

    def _checkpoint_if_active(self) -> None:
        if not self.wait_for_writer_lock(self._lock, self._stopping):
            return
        try:
            # Re-checked under the lock: once stop() is called no save may start,
            # so nothing lands after it returns (CK-09).
            if self._stopping.is_set():
                return
            # Read under the writer lock: every mutation notified so far has
            # completed, so the snapshot below contains it.
            with self._activity_lock:
                activity = self._activity
            if not self.needs_checkpoint(activity, self._saved_activity):
                return  # no activity, no save (CK-06)
            self._session.save(skip_index=True)
            self._saved_activity = activity
            self._saves += 1
        finally:
            self._lock.release()


def factory(ctx: StoreContext) -> CheckpointStore:
    """The kit's entry point: a store on ``ctx.path`` timed by ``ctx.clock``.

    Calling it again on the same path is a restart (CK-01, CK-08).
    """
    return CheckpointStore(ctx.path, clock=ctx.clock)


def _is_valid_session_id(value: object) -> bool:
    # fullmatch, not match with "$": "$" also accepts a trailing newline.
    return isinstance(value, str) and _SESSION_ID.fullmatch(value) is not None and value.casefold() not in _RESERVED_IDS


def _check_session_id(session_id: object) -> str:
    """``session_id`` if it is a safe file name, else ``ValueError`` (CK-10)."""
    if not isinstance(session_id, str):
        raise ValueError(f"session id must be a str, got {type(session_id).__name__}")
    if not _is_valid_session_id(session_id):
        shown = session_id if len(session_id) <= 60 else f"{session_id[:60]}..."
        raise ValueError(
            f"invalid session id {shown!r}: expected 1-128 characters from"
            f" [A-Za-z0-9._-], not starting with '.', and not {INDEX_FILE_NAME!r}'s stem"
        )
    return session_id


def _fields_problem(record: Mapping[str, Any], fields: _Schema) -> str | None:
    for name, types in fields.items():
        if name not in record:
            return f"missing field {name!r}"
        value = record[name]
        # bool is an int subclass, but a flag where a number belongs is damage.
        if isinstance(value, bool) or not isinstance(value, types):
            return f"field {name!r} has type {type(value).__name__}"
    return None


def _session_problem(record: object, sid: str) -> str | None:
    """Why ``record`` is not a whole session named ``sid``, or ``None`` (CK-11)."""
    if not isinstance(record, dict):
        return f"expected a JSON object, got {type(record).__name__}"
    problem = _fields_problem(record, _SESSION_FIELDS)
    if problem is not None:
        return problem
    if not all(isinstance(message, dict) for message in record["messages"]):
        return "field 'messages' holds a non-object item"
    if record["session_id"] != sid:
        return f"file holds session {record['session_id']!r}"
    return None


def _validated(record: dict[str, Any]) -> dict[str, Any]:
    # Refuse to write what load would refuse to read.
    problem = _session_problem(record, record["session_id"])
    if problem is not None:
        raise TypeError(f"session {record['session_id']!r} cannot be saved: {problem}")
    return record


def _read_record(path: Path, sid: str) -> dict[str, Any]:
    """The validated record in ``path``; ``FileNotFoundError`` if there is none."""
    raw = path.read_bytes()
    try:
        record: object = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad JSON or bad UTF-8
        raise CorruptSessionError(path, f"not valid JSON ({exc})") from exc
    problem = _session_problem(record, sid)
    if problem is not None:
        raise CorruptSessionError(path, problem)
    assert isinstance(record, dict)  # checked by _session_problem
    return record


def _index_entry(record: Mapping[str, Any]) -> dict[str, Any]:
    entry = {name: record[name] for name in ("session_id", "title", "updated_at")}
    return entry | {"message_count": len(record["messages"])}


def _encode(document: object) -> bytes:
    # ASCII-escaped JSON: any str round-trips, lone surrogates included.
    return json.dumps(document, ensure_ascii=True).encode("ascii")
