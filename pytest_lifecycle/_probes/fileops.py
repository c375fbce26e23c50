"""What a provider does to its files: opens, renames, removals and fsyncs.

A SIGKILL cannot reveal a missing ``fsync`` (the page cache survives the
process), so durability rules check the *protocol* instead, the way
crash-consistency research does (ALICE, OSDI'14): record the file operations
of a save and check that new content is fsynced before it is renamed into
place and that the directory is fsynced after the rename.

Renames, opens and removals come from :func:`sys.addaudithook` (``open`` is
raised by :func:`open` and :func:`os.open`; ``os.rename`` by both
:func:`os.rename` and :func:`os.replace`).  ``fsync`` raises no audit event, so
while a recorder is active :func:`os.fsync` and :func:`os.fdatasync` are
wrapped; the originals come back when the last recorder stops.  An audit hook
cannot be removed, so one hook is installed per process and does nothing
unless a recorder is active.

Recording is scoped by *directory*, not by thread: saves run on kit workers
and checkpointer threads.  Each :class:`FileOp` keeps the thread it came from.

Interceptors run in the provider's thread *before* the operation: they can
hold it on a gate (to drive a race) or raise ``OSError`` (fault injection).
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, final

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FileOp", "FileOps", "Injection", "durable_replace_problems", "paths", "recovery_problems"]

#: Audit events we record, by the kind of :class:`FileOp` they become.
_EVENTS: Final = {"open": "open", "os.rename": "rename", "os.remove": "remove", "os.truncate": "truncate"}
_WRITE_FLAGS: Final = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_lock = threading.Lock()
#: Active recorders; replaced (never mutated) so the hook reads it without a lock.
_active: tuple[FileOps, ...] = ()
_hook_installed = False
_originals: dict[str, Callable[..., Any]] = {}
_tls = threading.local()


@final
@dataclass(frozen=True, slots=True)
class FileOp:
    """One recorded operation.

    ``path`` is absolute and normalised (``..`` folded), ``dest`` is the target
    of a rename.  ``inode`` is ``(st_dev, st_ino)``: of the source of a rename
    (taken just before it runs) and of the file an ``fsync`` was called on.
    """

    seq: int
    kind: str
    path: str
    dest: str | None = None
    #: Opened for writing or creating (open) / truncating (``O_TRUNC``, mode ``w``).
    writes: bool = False
    truncates: bool = False
    appends: bool = False
    mode: str | None = None
    inode: tuple[int, int] | None = None
    #: An fsync of a directory.
    is_dir: bool = False
    thread: str = ""
    thread_id: int = 0

    def describe(self, root: Path | str | None = None) -> str:
        """``os.rename('.s.json.tmp' -> 's.json')`` with paths relative to *root*."""
        show = (lambda p: _relative(p, root)) if root is not None else (lambda p: p)
        if self.kind == "rename":
            return f"os.rename({show(self.path)!r} -> {show(self.dest or '')!r})"
        if self.kind == "open":
            how = self.mode if self.mode is not None else ("write" if self.writes else "read")
            return f"open({show(self.path)!r}, {how})"
        if self.kind == "fsync":
            return f"fsync({show(self.path)!r}{' [directory]' if self.is_dir else ''})"
        return f"{self.kind}({show(self.path)!r})"


def _relative(path: str, root: Path | str) -> str:
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


class Injection:
    """A fault armed with :meth:`FileOps.inject`; ``fired`` is the op it hit."""

    def __init__(self, kind: str, nth: int, code: int, match: Callable[[FileOp], bool] | None) -> None:
        self.kind = kind
        self.nth = nth
        self.code = code
        self.match = match
        self.seen = 0
        self.fired: FileOp | None = None
        #: Disarms the injection (set by :meth:`FileOps.inject`).
        self.remove: Callable[[], None] = lambda: None

    def __call__(self, op: FileOp) -> None:
        if op.kind != self.kind or self.fired is not None or (self.match is not None and not self.match(op)):
            return
        self.seen += 1
        if self.seen == self.nth:
            self.fired = op
            raise OSError(self.code, f"{os.strerror(self.code)} (injected by the kit into {op.describe()})")

    def __repr__(self) -> str:
        return f"{errno.errorcode.get(self.code, self.code)} at {self.kind} #{self.nth}"


@final
class FileOps:
    """Records the file operations under *directory* while active.

    Use as a context manager, or :meth:`start`/:meth:`stop`.  Thread-safe.

    :param directory: only operations on paths inside it are recorded (fsyncs
        on descriptors whose path cannot be resolved are recorded too).
    """

    def __init__(self, directory: Path | str) -> None:
        self.root: Final = os.path.normpath(os.path.abspath(directory))
        self._roots: Final = {self.root, os.path.realpath(self.root)}
        self._ops: list[FileOp] = []
        self._seq = itertools.count(1)
        self._cond = threading.Condition()
        self._interceptors: list[Callable[[FileOp], None]] = []
        self._running = False

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> FileOps:
        global _active
        with _lock:
            if self._running:
                return self
            _install()
            if not _active:
                _wrap_fsync()
            _active = (*_active, self)
            self._running = True
        return self

    def stop(self) -> None:
        """Stop recording (idempotent); the ops recorded so far stay readable."""
        global _active
        with _lock:
            if not self._running:
                return
            _active = tuple(r for r in _active if r is not self)
            self._running = False
            if not _active:
                _unwrap_fsync()
        with self._cond:
            self._interceptors.clear()
            self._cond.notify_all()

    def __enter__(self) -> FileOps:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- reading ------------------------------------------------------------

    @property
    def ops(self) -> list[FileOp]:
        with self._cond:
            return list(self._ops)

    def mark(self) -> int:
        """The sequence number of the last recorded op (0 before any)."""
        with self._cond:
            return self._ops[-1].seq if self._ops else 0

    def since(self, mark: int) -> list[FileOp]:
        """Ops recorded after :meth:`mark` returned *mark*."""
        with self._cond:
            return [op for op in self._ops if op.seq > mark]

    def wait_for(self, ready: Callable[[list[FileOp]], bool], timeout: float) -> bool:
        """Wait until ``ready(ops)`` holds; ``False`` after *timeout* seconds.

        Never fails by itself: the caller decides whether a timeout is a
        violation or the expected outcome of a bounded observation.
        """
        with self._cond:
            return self._cond.wait_for(lambda: ready(self._ops), timeout)

    # -- acting -------------------------------------------------------------

    def intercept(self, fn: Callable[[FileOp], None]) -> Callable[[], None]:
        """Call ``fn(op)`` before every recorded operation runs; returns a remover.

        *fn* runs in the provider's thread.  It may block (hold a rename on a
        gate) or raise ``OSError``, which the provider's call then raises.
        """
        with self._cond:
            self._interceptors.append(fn)

        def remove() -> None:
            with self._cond:
                if fn in self._interceptors:
                    self._interceptors.remove(fn)

        return remove

    def inject(
        self, kind: str, *, nth: int = 1, code: int = errno.ENOSPC, match: Callable[[FileOp], bool] | None = None
    ) -> Injection:
        """Make the *nth* ``kind`` operation (``"rename"``, ``"fsync"``, ``"open"``) raise ``OSError(code)``."""
        injection = Injection(kind, nth, code, match)
        injection.remove = self.intercept(injection)
        return injection

    def inside(self, path: str | None) -> bool:
        return path is not None and any(path == r or path.startswith(r + os.sep) for r in self._roots)

    # -- called by the hook -------------------------------------------------

    def _observe(self, make: Callable[[int], FileOp]) -> None:
        with self._cond:
            op = make(next(self._seq))
            self._ops.append(op)
            interceptors = list(self._interceptors)
            self._cond.notify_all()
        for fn in interceptors:
            fn(op)


# -- the process-wide hook ------------------------------------------------------


def _install() -> None:
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        _hook_installed = True


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _active or event not in _EVENTS or getattr(_tls, "busy", False):
        return
    _tls.busy = True
    try:
        _dispatch(_EVENTS[event], args)
    finally:
        _tls.busy = False


def _dispatch(kind: str, args: tuple[Any, ...]) -> None:
    # Decoding must never break the provider's call: a surprise in an argument
    # is ignored.  Only interceptors may raise into it (that is fault injection).
    try:
        fields = _decode(kind, args)
    except Exception:
        return
    if fields is None:
        return
    recorders = [r for r in _active if r.inside(fields["path"]) or r.inside(fields.get("dest"))]
    if not recorders:
        return
    if kind == "rename":
        try:
            st = os.lstat(fields["path"])
            fields["inode"] = (st.st_dev, st.st_ino)
        except OSError:
            pass
    thread = threading.current_thread()
    for recorder in recorders:
        recorder._observe(lambda seq: FileOp(seq, kind, thread=thread.name, thread_id=thread.ident or 0, **fields))


def _decode(kind: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    if kind == "open":
        path, mode, flags = args[0], args[1], args[2]
        target = _normalise(path)
        if target is None:
            return None
        mode_text = mode if isinstance(mode, str) else None
        flags = flags if isinstance(flags, int) else 0
        if mode_text is not None:
            writes = any(c in mode_text for c in "wax+")
            truncates = "w" in mode_text
            appends = "a" in mode_text
        else:
            writes = bool(flags & _WRITE_FLAGS)
            truncates = bool(flags & os.O_TRUNC)
            appends = bool(flags & os.O_APPEND)
        return {"path": target, "mode": mode_text, "writes": writes, "truncates": truncates, "appends": appends}
    if kind == "rename":
        src = _normalise(args[0], args[2] if len(args) > 2 else None)
        dst = _normalise(args[1], args[3] if len(args) > 3 else None)
        if src is None or dst is None:
            return None
        return {"path": src, "dest": dst}
    target = _normalise(args[0], args[1] if len(args) > 1 and kind == "remove" else None)
    return None if target is None else {"path": target, "writes": kind == "truncate", "truncates": kind == "truncate"}


def _normalise(path: Any, dir_fd: Any = None) -> str | None:
    if isinstance(path, int) or path is None:
        return None  # a descriptor: not a path operation
    text = os.fsdecode(os.fspath(path))
    if not os.path.isabs(text):
        base = _fd_path(dir_fd) if isinstance(dir_fd, int) and dir_fd >= 0 else os.getcwd()
        if base is None:
            return None
        text = os.path.join(base, text)
    return os.path.normpath(text)


def _fd_path(fd: int) -> str | None:
    """The path behind a descriptor, where the platform can tell."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
    get_path = getattr(fcntl, "F_GETPATH", None)  # macOS
    if get_path is None:
        return None
    try:
        return os.fsdecode(fcntl.fcntl(fd, get_path, b"\0" * 1024).rstrip(b"\0"))
    except OSError:
        return None


# -- the fsync wrapper ------------------------------------------------------------


def _wrap_fsync() -> None:
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name, None)
        if real is None or name in _originals:
            continue
        _originals[name] = real
        setattr(os, name, _wrapper(real))


def _unwrap_fsync() -> None:
    for name, real in _originals.items():
        setattr(os, name, real)
    _originals.clear()


def _wrapper(real: Callable[[Any], None]) -> Callable[[Any], None]:
    def fsync(fd: Any) -> None:
        if _active and not getattr(_tls, "busy", False):
            _tls.busy = True
            try:
                _record_fsync(fd)
            finally:
                _tls.busy = False
        real(fd)

    fsync.__name__ = real.__name__
    fsync.__doc__ = real.__doc__
    fsync.__wrapped__ = real  # type: ignore[attr-defined]
    return fsync


def _record_fsync(fd: Any) -> None:
    try:
        fileno = fd if isinstance(fd, int) else fd.fileno()
        st = os.fstat(fileno)
        path = _fd_path(fileno)
    except Exception:
        return  # the real fsync reports a bad descriptor
    fields: dict[str, Any] = {
        "path": os.path.normpath(path) if path else f"<fd {fileno}>",
        "inode": (st.st_dev, st.st_ino),
        "is_dir": stat.S_ISDIR(st.st_mode),
    }
    thread = threading.current_thread()
    for recorder in _active:
        if path is None or recorder.inside(fields["path"]):
            recorder._observe(
                lambda seq: FileOp(seq, "fsync", thread=thread.name, thread_id=thread.ident or 0, **fields)
            )


# -- the durable-replace protocol ---------------------------------------------------


def durable_replace_problems(ops: Sequence[FileOp], root: Path | str) -> list[str]:
    """What breaks the write-temp / fsync / rename / fsync-directory protocol.

    For every rename into *root*: its source must have been fsynced after it
    was (last) opened for writing and before the rename; its directory must
    be fsynced after the rename.  A file opened for writing with truncation
    or append and never renamed away was written in place.  Each problem names
    the operation.  ``ops`` should be the operations of one save.
    """
    problems: list[str] = []
    root = os.path.normpath(os.path.abspath(root))
    numbered = {op.seq: n for n, op in enumerate(ops, 1)}
    fsyncs = [op for op in ops if op.kind == "fsync"]
    renames = [op for op in ops if op.kind == "rename"]

    def show(op: FileOp) -> str:
        return f"{op.describe(root)} (operation #{numbered[op.seq]})"

    for rename in renames:
        dest = _relative(rename.dest or "", root)
        opened = [
            op for op in ops if op.kind == "open" and op.writes and op.path == rename.path and op.seq < rename.seq
        ]
        start = opened[-1].seq if opened else 0
        if rename.inode is None or not any(f.inode == rename.inode and start < f.seq < rename.seq for f in fsyncs):
            after = f" after {show(opened[-1])}" if opened else ""
            problems.append(
                f"{show(rename)} without an fsync of its source{after}: after a power loss "
                f"{dest!r} can be empty or partial (fsync the temporary file before os.replace)"
            )
        directory = os.path.dirname(rename.dest or "")
        try:
            st = os.stat(directory)
            dir_inode: tuple[int, int] | None = (st.st_dev, st.st_ino)
        except OSError:
            dir_inode = None
        if not any(f.is_dir and f.inode == dir_inode and f.seq > rename.seq for f in fsyncs):
            problems.append(
                f"{show(rename)} without an fsync of its directory afterwards: after a power loss the "
                f"rename itself can be lost and {dest!r} comes back old or missing"
            )
    moved = {op.path for op in renames} | {op.path for op in ops if op.kind == "remove"}
    for op in ops:
        if op.kind == "open" and (op.truncates or op.appends) and op.path not in moved:
            problems.append(
                f"{show(op)} writes {_relative(op.path, root)!r} in place: a crash mid-write tears it "
                "(write a temporary file, fsync it and os.replace it into place)"
            )
    if not renames and any(op.kind in ("open", "truncate") and op.writes for op in ops):
        problems.append("the save wrote files but renamed nothing into place")
    return problems


def recovery_problems(ops: Sequence[FileOp], failed: FileOp, targets: Iterable[str], root: Path | str) -> list[str]:
    """What keeps a save that returned normally after *failed* raised from being a recovery.

    *failed* is the recorded ``fsync`` or ``rename`` that raised an I/O error
    during the save whose operations are *ops*; *targets* are the files a
    whole save replaces.  A recovery writes again from scratch, so that when
    the save returns every target is new and durable:

    - each target was renamed into place, and every rename follows the
      durable protocol counting successful operations only (the failed one
      does not count);
    - a file whose fsync failed is never renamed into place unless it was
      written again after the failure: a second fsync of the same descriptor
      proves nothing, since the kernel may have dropped its dirty pages and
      forgotten the error;
    - a rename whose directory fsync failed (with no successful one between)
      is made again afterwards, for the same reason.
    """
    root = os.path.normpath(os.path.abspath(root))
    numbered = {op.seq: n for n, op in enumerate(ops, 1)}
    ok = [op for op in ops if op.seq != failed.seq]
    problems = durable_replace_problems(ok, root)

    def show(op: FileOp) -> str:
        n = numbered.get(op.seq)
        return op.describe(root) + (f" (operation #{n})" if n else "")

    renames = [op for op in ok if op.kind == "rename"]
    for target in sorted(set(targets)):
        onto = [op for op in renames if op.dest == target]
        if not onto:
            problems.append(f"nothing was renamed onto {_relative(target, root)!r} although a whole save replaces it")
            continue
        final = onto[-1]
        if failed.kind == "fsync" and not failed.is_dir and final.inode == failed.inode:
            opened = [
                op for op in ok if op.kind == "open" and op.writes and op.path == final.path and op.seq < final.seq
            ]
            if not opened or opened[-1].seq < failed.seq:
                problems.append(
                    f"{show(final)} puts in place the file whose {show(failed)} failed, without writing it again: "
                    "an fsync that failed once proves nothing when retried (the kernel may have dropped the dirty "
                    "pages); write a new temporary file from scratch"
                )
        if failed.kind == "fsync" and failed.is_dir and final.seq < failed.seq:
            directory = os.path.dirname(final.dest or "")
            try:
                st = os.stat(directory)
                same_dir = (st.st_dev, st.st_ino) == failed.inode
            except OSError:
                same_dir = os.path.normpath(failed.path) == directory
            synced_between = any(
                f.kind == "fsync" and f.is_dir and f.inode == failed.inode and final.seq < f.seq < failed.seq
                for f in ok
            )
            if same_dir and not synced_between:
                problems.append(
                    f"{show(final)} was followed only by the failed {show(failed)} and was not made again: "
                    "a later fsync of the directory proves nothing; write the file again from scratch"
                )
    return problems


def paths(ops: Iterable[FileOp], kind: str, *, dest: bool = False) -> set[str]:
    """The paths (or rename targets) of the *kind* operations in *ops*."""
    return {(op.dest if dest else op.path) or "" for op in ops if op.kind == kind}
