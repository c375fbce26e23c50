"""Alternate reading of §2: a store that rebuilds its index from disk on every full save.

Written from the contract text alone, it takes the other branch of each of
the contract's open choices, the way a production session store does:

- CK/index-rebuild ``rebuild``: a full save rebuilds the index from every
  session file on disk, so sessions saved earlier with ``skip_index=True``
  appear too (a ``skip_index`` save never touches the index itself);
- CK/unsafe-load ``not-found``: ``load`` of an id that could escape the
  directory returns ``None``, as for an id never saved -- nothing is opened;
  ``save`` of such an id raises ``ValueError`` before touching the disk;
- CK/empty-id ``generated``: ``create('')`` gives the session a fresh random id;
- CK/io-error ``rewrites``: an ``EIO``/``ENOSPC`` from any step of a write
  (the fsync of the data, the rename, the fsync of the directory) is
  recovered once by writing the file again from scratch: a new temporary
  file, fsynced, renamed, the directory fsynced.  A second failure raises.

It also differs where the contract says nothing: ids have no length limit of
their own (the file system refuses a too-long one with ``OSError``),
``lock_for`` is a plain non-reentrant lock that ``save`` never takes (callers
and the checkpointer hold it around their saves), and saves of one session
are not serialised (each writes its own temporary file).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_lifecycle import Provider

CHOICES = {
    "CK/index-rebuild": "rebuild",
    "CK/unsafe-load": "not-found",
    "CK/empty-id": "generated",
    "CK/io-error": "rewrites",
}

INDEX_NAME = "_index.json"
#: Starts with a letter or digit: never ".", "..", a hidden file, or the index ("_index").
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
#: I/O errors a write recovers from by writing again from scratch (CK-05).
RECOVERABLE = frozenset({errno.EIO, errno.ENOSPC})
#: A directory fsync the file system does not support may be ignored (CK-05).
UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP)})
#: Field -> accepted JSON types of a session file (bool is never a number).
SCHEMA: dict[str, tuple[type, ...]] = {
    "session_id": (str,),
    "title": (str,),
    "messages": (list,),
    "pending_user_message": (str, type(None)),
    "pending_started_at": (int, float, type(None)),
    "active_stream_id": (str, type(None)),
    "updated_at": (int, float),
}

log = logging.getLogger(__name__)


def is_safe_id(session_id: object) -> bool:
    return isinstance(session_id, str) and SAFE_ID.fullmatch(session_id) is not None


class DamagedSessionFile(ValueError):
    """A session file that is there but holds no whole session (CK-11)."""

    def __init__(self, path: Path, why: str) -> None:
        super().__init__(f"damaged session file {path}: {why}")


class Session:
    def __init__(
        self,
        store: RebuildingStore,
        session_id: str,
        *,
        title: str,
        messages: list[dict[str, Any]],
        updated_at: float,
        pending_user_message: str | None = None,
        pending_started_at: float | None = None,
        active_stream_id: str | None = None,
    ) -> None:
        self._store = store
        self.session_id = session_id
        self.title = title
        self.messages = messages
        self.updated_at = updated_at
        self.pending_user_message = pending_user_message
        self.pending_started_at = pending_started_at
        self.active_stream_id = active_stream_id

    def save(self, *, skip_index: bool = False, touch_updated_at: bool = True) -> None:
        self._store.save(self, skip_index=skip_index, touch_updated_at=touch_updated_at)


class RebuildingStore:
    def __init__(self, directory: Path, clock: Callable[[], float]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        # One rebuild at a time, each after its own session file is in place:
        # the last one sees every file (CK-12).
        self._index_guard = threading.Lock()

    # -- the contract's surface ----------------------------------------------

    def create(self, session_id: str, *, title: str, messages: list[dict[str, Any]]) -> Session:
        if session_id == "":
            session_id = uuid.uuid4().hex  # CK/empty-id: generated
        return Session(self, session_id, title=title, messages=list(messages), updated_at=float(self.clock()))

    def load(self, session_id: str) -> Session | None:
        if not is_safe_id(session_id):
            return None  # CK/unsafe-load: not found, and nothing opened
        path = self.path_of(session_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                return None  # could never have been saved
            raise
        fields = self.parse(path, raw, session_id)
        del fields["session_id"]
        return Session(self, session_id, **fields)

    def index(self) -> list[dict[str, Any]]:
        try:
            raw = (self.directory / INDEX_NAME).read_bytes()
        except FileNotFoundError:
            return []
        try:
            listed = json.loads(raw)
        except ValueError:
            listed = None
        if not isinstance(listed, list):
            return self._scan()  # outside damage: what the files say
        # Files damaged since the last rebuild drop out at once (CK-11).
        return [entry for entry in listed if isinstance(entry, dict) and self._intact(entry.get("session_id"))]

    def lock_for(self, session_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(session_id, threading.Lock())

    def start_checkpointer(self, session: Session, *, interval: float) -> Checkpointer:
        return Checkpointer(session, self.lock_for(session.session_id), interval)

    # -- saving ----------------------------------------------------------------

    def save(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        sid = session.session_id
        if not is_safe_id(sid):
            raise ValueError(f"session id {sid[:80]!r} could escape the session directory")
        updated_at = max(float(self.clock()), session.updated_at) if touch_updated_at else session.updated_at
        document = {
            "session_id": sid,
            "title": session.title,
            "messages": session.messages,
            "pending_user_message": session.pending_user_message,
            "pending_started_at": session.pending_started_at,
            "active_stream_id": session.active_stream_id,
            "updated_at": updated_at,
        }
        self.replace(self.path_of(sid), json.dumps(document).encode("ascii"))
        session.updated_at = updated_at
        if not skip_index:
            self._rebuild_index()

    def _rebuild_index(self) -> None:
        with self._index_guard:
            self.replace(self.directory / INDEX_NAME, json.dumps(self._scan()).encode("ascii"))

    def _scan(self) -> list[dict[str, Any]]:
        entries = []
        for path in sorted(self.directory.glob("*.json")):
            entry = self.entry_from(path, path.name[: -len(".json")])
            if entry is not None:
                entries.append(entry)
        return entries

    def entry_from(self, path: Path, session_id: str) -> dict[str, Any] | None:
        """The index entry of a session file, or ``None`` for anything else (the index, a damaged file)."""
        if not is_safe_id(session_id):
            return None
        try:
            fields = self.parse(path, path.read_bytes(), session_id)
        except (OSError, DamagedSessionFile):
            return None
        return {
            "session_id": session_id,
            "title": fields["title"],
            "updated_at": fields["updated_at"],
            "message_count": len(fields["messages"]),
        }

    def replace(self, target: Path, data: bytes) -> None:
        """Put *data* in *target* atomically and durably; one I/O error is recovered from scratch."""
        try:
            self._write_from_scratch(target, data)
        except OSError as exc:
            if exc.errno not in RECOVERABLE:
                raise
            # Never fsync the same descriptor again: after a failed fsync the
            # kernel may have dropped the dirty pages.  A new file, all steps.
            log.warning("writing %s failed (%s); writing it again from scratch", target.name, exc)
            self._write_from_scratch(target, data)

    def _write_from_scratch(self, target: Path, data: bytes) -> None:
        temp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        self.sync_directory(target.parent)

    def sync_directory(self, directory: Path) -> None:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        except OSError as exc:
            if exc.errno not in UNSUPPORTED:
                raise
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------

    def path_of(self, session_id: str) -> Path:
        return self.directory / f"{session_id}.json"

    def parse(self, path: Path, raw: bytes, session_id: str) -> dict[str, Any]:
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise DamagedSessionFile(path, f"not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise DamagedSessionFile(path, f"holds a JSON {type(document).__name__}, not a session object")
        for name, types in SCHEMA.items():
            value = document.get(name)
            if name not in document or isinstance(value, bool) or not isinstance(value, types):
                raise DamagedSessionFile(path, f"field {name!r} is missing or has the wrong type")
        if not all(isinstance(message, dict) for message in document["messages"]):
            raise DamagedSessionFile(path, "a message is not an object")
        if document["session_id"] != session_id:
            raise DamagedSessionFile(path, f"holds session {document['session_id']!r}")
        return {name: document[name] for name in SCHEMA}

    def _intact(self, session_id: object) -> bool:
        if not is_safe_id(session_id):
            return False
        assert isinstance(session_id, str)
        try:
            return self.load(session_id) is not None
        except (OSError, DamagedSessionFile):
            return False


class Checkpointer:
    """Saves the session (``skip_index=True``, holding ``lock_for``) on ticks that follow activity."""

    def __init__(self, session: Session, lock: threading.Lock, interval: float) -> None:
        self._session = session
        self._lock = lock
        self._interval = interval
        self._notified = 0
        self._saved = 0
        self._saves = 0
        self._counter = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"alt-checkpoint-{session.session_id}", daemon=True)
        self._thread.start()

    def notify_activity(self) -> None:
        with self._counter:
            self._notified += 1

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()  # nothing may be written once stop() returned (CK-09)
        return self._saves

    def _loop(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                self._tick()
            except Exception:
                log.warning("checkpoint of %r failed", self._session.session_id, exc_info=True)

    def _tick(self) -> None:
        with self._counter:
            if self._notified == self._saved:
                return  # no activity, no save
        # Short waits for the lock: a caller holding it while it stops us
        # gets its stop() back within one interval (CK-06).
        while not self._lock.acquire(timeout=min(self._interval, 0.05)):
            if self._stopped.is_set():
                return
        try:
            if self._stopped.is_set():
                return
            with self._counter:
                notified = self._notified  # every notified change is complete: its lock was released
            self._session.save(skip_index=True)
            self._saved = notified
            self._saves += 1
        finally:
            self._lock.release()


def factory(ctx: Any) -> RebuildingStore:
    return RebuildingStore(ctx.path, ctx.clock)


provider = Provider("alt-rebuilding-index", checkpoint_store=factory)
