"""Certifying a lock registry you did not write: a few lines of adapter.

``NamedLocks`` stands for a third-party library — say ``pip install
namedlocks`` — that already does the right thing (one lock per name, held
weakly in a ``weakref.WeakValueDictionary`` and pinned while it is held,
aliases for renamed keys) but spells it differently: ``get(name)``, ``alias(name, lock)``, ``names()``.
The lock-rotation contract (§3) wants ``lock_for(key)``,
``rotate(old_key, new_key, held_lock)`` and ``len(registry)``, and locks with
``acquire(timeout=…)``, ``release()`` and ``with``.  Its locks already have
those; :class:`NamedLocksAdapter` maps the registry, and :data:`provider`
registers it::

    pytest --pyargs conformance.keyed_locks --lifecycle-provider tests.examples.third_party_locks:provider

(or publish ``provider`` under the ``pytest_lifecycle.providers`` entry point).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Hashable
from types import TracebackType

from pytest_lifecycle import Provider

__all__ = ["NamedLock", "NamedLocks", "NamedLocksAdapter", "provider"]


# -- the third-party library, as it ships ---------------------------------------


class NamedLock:
    """A ``threading.Lock`` with a name (and weak-referenceable).

    While held it sits in its registry's set of held locks, so a holder that
    kept no reference of its own (``locks.get(n).acquire()`` …
    ``locks.get(n).release()``) does not lose it to the garbage collector.
    """

    __slots__ = ("__weakref__", "_held", "_lock", "name")

    def __init__(self, name: Hashable, held: set[NamedLock]) -> None:
        self.name = name
        self._lock = threading.Lock()
        self._held = held

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got:
            self._held.add(self)
        return got

    def release(self) -> None:
        self._held.discard(self)  # before the release: the next holder pins it again
        self._lock.release()

    def __enter__(self) -> NamedLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class NamedLocks:
    """Locks by name, kept only while somebody references or holds them."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: weakref.WeakValueDictionary[Hashable, NamedLock] = weakref.WeakValueDictionary()
        self._held: set[NamedLock] = set()

    def get(self, name: Hashable) -> NamedLock:
        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = NamedLock(name, self._held)
            return lock

    def alias(self, name: Hashable, lock: NamedLock) -> None:
        with self._guard:
            self._locks[name] = lock

    def names(self) -> list[Hashable]:
        with self._guard:
            return list(self._locks.keys())


# -- the adapter: the contract's surface over it ---------------------------------


class NamedLocksAdapter:
    """``lock_for`` / ``rotate`` / ``len`` over a :class:`NamedLocks`."""

    def __init__(self, registry: NamedLocks) -> None:
        self.registry = registry

    def lock_for(self, key: Hashable) -> NamedLock:
        return self.registry.get(key)

    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: NamedLock) -> None:
        self.registry.alias(new_key, held_lock)  # the held lock is the identity; old_key stays bound

    def __len__(self) -> int:
        return len(self.registry.names())


provider = Provider("namedlocks", keyed_locks=lambda ctx: NamedLocksAdapter(NamedLocks()))
