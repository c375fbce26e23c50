"""Per-key locks whose identity survives key rotation (contract ``keyed_locks``).

A :class:`KeyedLocks` registry hands out one mutual-exclusion lock per key
(a session id, a workspace id).  A key can be *rotated* -- a session id
changes when its context is compressed -- while a holder is inside the
critical section, and the lock must neither split in two nor leak.

The whole contract (§3) follows from one design choice:
the registry maps keys to locks **weakly**, and **pins** a lock while it is
held.  A lock lives exactly as long as someone references it or holds it --
a holder (it called ``acquire``), a waiter (it is blocked inside
``acquire``) or any caller keeping the object -- and its entries, rotated
aliases included, vanish with it.

- **LK-01** ``lock_for(k) is lock_for(k)`` while the lock is referenced:
  creation is a check-then-insert under the registry mutex.  A held lock is
  pinned by the registry, so even a holder that kept no reference
  (``reg.lock_for(k).acquire()`` ... ``reg.lock_for(k).release()``) still
  excludes others (LK-01's SHOULD).
- **LK-02** / **LK-03** each :class:`KeyedLock` is its own ``threading.Lock``,
  so one key excludes, and different keys never contend.
- **LK-04** / **LK-05** ``rotate`` binds the new key to the *held* lock object;
  it never looks the old key up, so a concurrently pruned old key is fine.
- **LK-06** ``rotate`` leaves the old key bound, so a late caller using it
  meets the same lock as callers using the new key while that lock lives.
- **LK-07** no strong reference is kept but the pin of a held lock: once the
  lock is released and the last reference goes, the weak table drops every
  key that pointed at the lock.
- **LK-08** the behaviour above is the whole model; there is no hidden state.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from types import TracebackType

__all__ = ["KeyedLock", "KeyedLocks", "factory"]

# Below this many entries a sparse table costs too little to be worth rebuilding.
_COMPACT_MIN_ENTRIES = 256


class KeyedLock:
    """A non-reentrant mutual-exclusion lock handed out by :class:`KeyedLocks`.

    Backed by ``threading.Lock`` (LK-02): at most one holder at a time, and
    re-acquiring from the holding thread blocks rather than nesting -- a
    reentrant lock would hide exactly the nested-critical-section bugs the
    contract exists to catch.  Usable as a context manager.

    With *pins* (its registry's set of held locks) the lock puts itself in
    the set while it is held, so that a holder needs no reference of its own
    to keep it alive (LK-01's SHOULD); a lock made without *pins* is kept
    alive by its callers only.
    """

    # __weakref__ lets the registry refer to the lock without keeping it
    # alive (LK-07); __slots__ keeps 10 000 live locks cheap.
    __slots__ = ("__weakref__", "_lock", "_pins")

    def __init__(self, pins: set[KeyedLock] | None = None) -> None:
        self._lock = threading.Lock()
        self._pins = pins

    def acquire(self, timeout: float | None = None) -> bool:
        """Acquire the lock; return whether it was acquired.

        ``timeout=None`` blocks until acquired; ``timeout >= 0`` gives up
        after that many seconds (``0`` is a non-blocking try).
        A negative (or NaN) timeout is a caller bug, so it raises
        ``ValueError`` instead of silently meaning "forever" as it does
        for ``threading.Lock``.
        """
        if timeout is None:
            got = self._lock.acquire()
        elif not timeout >= 0:  # also rejects NaN
            raise ValueError(f"timeout must be None or >= 0, got {timeout!r}")
        else:
            got = self._lock.acquire(timeout=timeout)
        if got and self._pins is not None:
            self._pins.add(self)
        return got

    def release(self) -> None:
        """Release the lock; ``RuntimeError`` if it is not held."""
        if self._pins is not None:
            # Unpinned *before* the release: once released, another holder
            # may pin it again, and a later discard would drop that pin.
            self._pins.discard(self)
        self._lock.release()

    def locked(self) -> bool:
        """Whether some thread currently holds the lock."""
        return self._lock.locked()

    def __enter__(self) -> KeyedLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<KeyedLock {state} at {id(self):#x}>"


class KeyedLocks:
    """A registry of per-key locks with identity-preserving rotation.

    The table is a ``weakref.WeakValueDictionary``: the registry never keeps
    a lock alive by itself (LK-07), yet while anyone references a lock every
    key bound to it resolves to that same object (LK-01, LK-06).  Its
    removal callbacks are atomic and only ever delete an entry whose referent
    is dead, so a lock re-created for a key is never dropped by the death of
    its predecessor -- and they need not take ``_mutex``, which matters
    because garbage collection can run them on a thread already holding it.
    The only strong references are the pins of held locks (``_held``).

    Extension points (the mutant catalogue overrides these):

    - :meth:`new_lock` -- the lock a key gets when no live lock is bound to
      it: what kind of lock, and whether the registry pins it while held.
    """

    def __init__(self) -> None:
        # Guards every check-then-act on the table (LK-01 creation, rotate).
        self._mutex = threading.Lock()
        self._table: weakref.WeakValueDictionary[Hashable, KeyedLock] = weakref.WeakValueDictionary()
        # Held locks, kept alive by the registry until released (LK-01's
        # SHOULD).  Locks add and remove themselves; set operations are atomic.
        self._held: set[KeyedLock] = set()
        # Most entries the table has held since it was last rebuilt.
        self._high_water = 0

    def lock_for(self, key: Hashable) -> KeyedLock:
        """Return the live lock for ``key``, creating it if there is none.

        LK-01: the lookup and the insert happen under one mutex, so two
        concurrent first callers cannot each create their own lock.
        The caller's reference is what keeps the lock (and entry) alive.
        """
        with self._mutex:
            self._compact_if_sparse()
            lock = self._table.get(key)
            if lock is None:
                lock = self.new_lock()
                self._table[key] = lock
                self._high_water = max(self._high_water, len(self._table))
            return lock

    def new_lock(self) -> KeyedLock:
        """A fresh lock for a key that has none (called under the registry mutex).

        Its own ``threading.Lock`` (LK-02, LK-03), pinned in this registry
        while held (LK-01's SHOULD), referenced by nothing else (LK-07).
        """
        return KeyedLock(self._held)

    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: KeyedLock) -> None:
        """Make ``new_key`` resolve to ``held_lock`` (LK-04).

        ``old_key`` is accepted to name the rotation but deliberately never
        looked up: a concurrent prune may already have removed it, and the
        caller's held lock is the authoritative identity (LK-05).  Nor is it
        removed: a late caller still using ``old_key`` must meet the same
        lock as callers using ``new_key`` for as long as that lock lives
        (LK-06); the alias disappears with the lock itself (LK-07).

        Rotating onto a key already bound to ``held_lock`` is a no-op.
        Raises ``ValueError`` if ``new_key`` is bound to a *different* live
        lock: rebinding it would let a holder of that other lock and a holder
        of ``held_lock`` both be "inside" ``new_key`` at once, so the only
        safe answer is to refuse and let the caller decide.
        """
        del old_key  # intentionally unused, see above
        if not isinstance(held_lock, KeyedLock):
            raise TypeError(f"held_lock must be a KeyedLock, got {type(held_lock).__name__}")
        with self._mutex:
            self._compact_if_sparse()
            current = self._table.get(new_key)
            if current is not None and current is not held_lock:
                raise ValueError(
                    f"cannot rotate onto key {new_key!r}: it is bound to a different "
                    "live lock, and merging two live locks would break mutual exclusion"
                )
            self._table[new_key] = held_lock
            self._high_water = max(self._high_water, len(self._table))

    def __contains__(self, key: object) -> bool:
        """Whether ``key`` is currently bound to a live lock."""
        with self._mutex:
            return key in self._table

    def __len__(self) -> int:
        """Number of live entries -- keys and rotated aliases (LK-07).

        Counts only entries whose lock is still alive, so a lock that died
        but whose removal callback has not run yet is never reported.
        """
        with self._mutex:
            self._compact_if_sparse()
            return sum(1 for ref in self._table.valuerefs() if ref() is not None)

    def _compact_if_sparse(self) -> None:
        """Rebuild the table once most of its entries have died (LK-07).

        A dict keeps its capacity after deletions, so a burst of 10 000 live
        keys would otherwise pin its memory until the next resize.  Rebuilding
        once live entries fall below a quarter of the high-water mark is
        amortised O(1).  Runs under ``_mutex`` on the caller's thread -- never
        from a weakref callback, which could fire while the mutex is held.
        """
        live = len(self._table)
        if self._high_water > _COMPACT_MIN_ENTRIES and live * 4 < self._high_water:
            self._table = weakref.WeakValueDictionary(self._table)
            self._high_water = live

    def __repr__(self) -> str:
        return f"<KeyedLocks live={len(self)}>"


def factory(ctx: object) -> KeyedLocks:
    """Kit entry point: a fresh, isolated registry per test.

    Locks are neither durable nor time-based, so ``ctx.path`` and
    ``ctx.clock`` are not needed.
    """
    del ctx
    return KeyedLocks()
