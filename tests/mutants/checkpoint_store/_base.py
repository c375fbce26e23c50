"""Plumbing shared by the checkpoint-store mutants (not a mutant itself).

:class:`Store` is the reference store with its two writers routed through
:meth:`Store._write`, so that a mutant can change the write path by
overriding one method; everything else is inherited unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from reference_impl.checkpoint import CheckpointStore, Session, _atomic_write, _encode, _index_entry, _validated


class Store(CheckpointStore):
    """The reference, with ``_atomic_write`` reached through a method."""

    def _write(self, target: Path, data: bytes) -> None:
        _atomic_write(target, data)

    # Copies of the reference's two writers, calling self._write.
    def _save(self, session: Session, *, skip_index: bool, touch_updated_at: bool) -> None:
        sid = session.session_id
        with self.lock_for(sid):
            previous = session.updated_at
            updated_at = self._next_updated_at(previous) if touch_updated_at else previous
            record = _validated(session._record(updated_at))
            self._write(self._session_path(sid), _encode(record))
            session.updated_at = updated_at
            if not skip_index:
                self._put_index_entry(_index_entry(record))

    def _put_index_entry(self, entry: dict[str, Any]) -> None:
        with self._index_lock:
            entries = self._read_index()
            entries[entry["session_id"]] = entry
            self._write(self._index_path, _encode(list(entries.values())))


def factory_of(store_class: type[CheckpointStore]) -> Callable[[Any], CheckpointStore]:
    """The kit's ``factory(ctx)`` building *store_class* on ``ctx.path`` with ``ctx.clock``."""

    def factory(ctx: Any) -> CheckpointStore:
        return store_class(ctx.path, clock=ctx.clock)

    return factory
