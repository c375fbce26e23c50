"""Helpers of the checkpoint-store suite (§2); private.

The contract says nothing about a provider's file format, so the suite never
parses its files: it learns which files a save writes from the recorded file
operations, and reads what reached disk through the provider's own ``load``
on a fresh store (a restart), or on a copy of the directory taken at the
moment of a rename (:class:`Snapshots`).
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_lifecycle import Kit
from pytest_lifecycle.support import CheckpointStores, FileOp, FileOps, short_repr

#: The fields a saved session must give back (``session_id`` and ``updated_at`` aside).
FIELDS = ("title", "messages", "pending_user_message", "pending_started_at", "active_stream_id")


def state_of(session: Any) -> dict[str, Any]:
    """The fields of *session*, copied (so later mutations do not change them)."""
    return {name: copy.deepcopy(getattr(session, name)) for name in FIELDS}


def apply(session: Any, state: dict[str, Any]) -> None:
    """Set the fields of *state* on *session* (the caller holds the lock if it matters)."""
    for name, value in state.items():
        setattr(session, name, copy.deepcopy(value))


def differences(got: dict[str, Any], expected: dict[str, Any]) -> str:
    """``title: expected 'a', got 'b'; …`` for the fields that differ."""
    parts = [
        f"{name}: expected {short_repr(expected.get(name))}, got {short_repr(got.get(name))}"
        for name in expected
        if got.get(name) != expected.get(name)
    ]
    return "; ".join(parts) or "no difference"


def listing(path: Path) -> set[str]:
    """Every file under *path*, relative to it."""
    found = set()
    for folder, _, files in os.walk(path):
        for name in files:
            found.add(os.path.relpath(os.path.join(folder, name), path))
    return found


def from_provider_thread(op: FileOp) -> bool:
    """Done by a thread of the provider (a checkpointer), not by a kit worker."""
    return not op.thread.startswith("lifecycle-")


def writes_to(targets: Iterable[str], *, provider_thread: bool = False) -> Callable[[FileOp], bool]:
    """Matches what puts new content in one of *targets*: a rename onto it, or opening it to write in place.

    Either is recorded just *before* it runs; optionally only by provider threads.
    """
    wanted = set(targets)

    def match(op: FileOp) -> bool:
        if provider_thread and not from_provider_thread(op):
            return False
        if op.kind == "rename":
            return op.dest in wanted
        return op.kind == "open" and (op.truncates or op.appends) and op.path in wanted

    return match


def written(ops: Iterable[FileOp]) -> set[str]:
    """The files a sequence of operations left new content in: rename targets and in-place writes."""
    ops = list(ops)
    moved = {op.path for op in ops if op.kind in ("rename", "remove")}
    targets = {op.dest for op in ops if op.kind == "rename" and op.dest}
    in_place = {op.path for op in ops if op.kind == "open" and op.writes and op.path not in moved}
    return (targets | in_place) - moved


@dataclass(frozen=True)
class Layout:
    """Which files a provider's saves write (learned, never assumed)."""

    #: Written by a ``skip_index`` save of the session.
    session_files: frozenset[str]
    #: Written by a full save but not by a ``skip_index`` one.
    index_files: frozenset[str]
    #: The session's own file: the one of ``session_files`` named after it, if any.
    session_file: str


def learn_layout(kit: Kit, recorder: FileOps, session: Any) -> Layout:
    """Save *session* with ``skip_index=True``, then fully, and see what each wrote."""
    mark = recorder.mark()
    session.save(skip_index=True)
    session_files = written(recorder.since(mark))
    mark = recorder.mark()
    session.save()
    index_files = written(recorder.since(mark)) - session_files
    kit.check(session_files, f"{session!r}.save(skip_index=True) wrote no file under {recorder.root}")
    named = sorted(p for p in session_files if session.session_id in os.path.basename(p))
    return Layout(frozenset(session_files), frozenset(index_files), (named or sorted(session_files))[0])


class Snapshots:
    """What reached disk: a copy of the store's directory at every rename into it.

    Taken in the provider's thread just before the rename runs, then the
    rename is applied to the copy: each snapshot is the directory as it is
    right after that rename.  :meth:`load` reads them back through the
    provider's own ``load`` on a fresh store.
    """

    def __init__(self, stores: CheckpointStores, recorder: FileOps, root: Path) -> None:
        self._stores = stores
        self._root = Path(root)
        self._base = self._root.parent / f"{self._root.name}-snapshots"
        self._numbers = itertools.count(1)
        self.taken: list[tuple[Path, FileOp]] = []
        recorder.intercept(self._take)

    def _take(self, op: FileOp) -> None:
        if op.kind != "rename" or op.dest is None or not op.dest.startswith(str(self._root) + os.sep):
            return
        target = self._base / f"{next(self._numbers):04d}"
        for name in listing(self._root):
            source = self._root / name
            copy_path = target / name
            copy_path.parent.mkdir(parents=True, exist_ok=True)
            try:
                shutil.copyfile(source, copy_path)
            except (FileNotFoundError, IsADirectoryError):
                continue  # renamed or removed meanwhile by another save
        source_copy = target / os.path.relpath(op.path, self._root)
        if source_copy.exists():
            os.replace(source_copy, target / os.path.relpath(op.dest, self._root))
        self.taken.append((target, op))

    def load(self, session_id: str) -> list[tuple[FileOp, Any]]:
        """``(rename, loaded session or the exception load raised)`` per snapshot."""
        found = []
        for path, op in list(self.taken):
            store = self._stores.at(path)
            try:
                found.append((op, store.load(session_id)))
            except Exception as exc:  # reported by the caller, with the snapshot named
                found.append((op, exc))
        return found
