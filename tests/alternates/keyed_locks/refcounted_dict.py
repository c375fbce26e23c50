"""A lock registry on a plain dict, swept by reference count instead of weak references.

Written from the contract (§3), not from the reference, and built the other
way round: the reference holds its locks weakly and pins the held ones;
this registry holds every lock strongly, in a plain ``dict``, and *sweeps*
the ones nobody uses any more.  A lock is live (the contract's word) while
it is held or while anyone outside the registry references it -- CPython's
reference count says so (``sys.getrefcount``).  Sweeping needs the registry
mutex, and only the registry can hand out a new reference to a lock that
nobody references, so the count cannot change under the sweep's feet.

Where it reads the contract differently:

- **Entries go at the next call, not at the last reference.**  ``len()``
  sweeps before it counts, and ``lock_for``/``rotate`` sweep whenever the
  table has doubled since the last sweep (so memory stays bounded under
  churn); a key whose lock is dead is forgotten when it is next looked up.
- **A held lock is live by itself**, reference or not (LK-01's SHOULD): it
  is never swept while ``locked()``.
- **Rotation binds ``old`` too** when it is bound to nothing live (pruned, or
  never used): a late caller through ``old`` then meets the held lock as
  well.  The contract leaves that open (LK-05's model retires such an
  ``old``); the reference leaves ``old`` unbound.
- **The locks are thread-owned**: only the thread that acquired a lock may
  release it (``RuntimeError`` otherwise), as with a mutex in most languages.
  The registry keeps what it knows about each lock beside it, in a
  ``_Binding``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Hashable

from pytest_lifecycle import Provider

CHOICES: dict[str, str] = {}

#: A sweep runs in ``lock_for``/``rotate`` once the table has grown to twice
#: its size after the last sweep, and never below this many entries.
SWEEP_MIN = 64


class OwnedLock:
    """A non-reentrant lock that only the thread holding it may release."""

    __slots__ = ("_lock", "_owner")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        got = self._lock.acquire(blocking, timeout)
        if got:
            self._owner = threading.get_ident()
        return got

    def release(self) -> None:
        if self._owner != threading.get_ident():
            raise RuntimeError("release of a lock this thread does not hold")
        self._owner = None
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    def __enter__(self) -> OwnedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Binding:
    """One lock and every key bound to it; the registry's only reference to the lock."""

    __slots__ = ("keys", "lock")

    def __init__(self) -> None:
        self.lock = OwnedLock()
        self.keys: list[Hashable] = []


def _live(binding: _Binding) -> bool:
    # Two references are the registry's own: ``binding.lock`` and getrefcount's argument.
    return binding.lock.locked() or sys.getrefcount(binding.lock) > 2


class RefcountedLocks:
    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._table: dict[Hashable, _Binding] = {}
        self._by_lock: dict[int, _Binding] = {}  # id(lock): its binding holds the lock, so ids are not reused
        self._sweep_at = SWEEP_MIN

    def lock_for(self, key: Hashable) -> OwnedLock:
        with self._mutex:
            binding = self._current(key)
            if binding is None:
                self._sweep_if_grown()
                binding = _Binding()
                self._by_lock[id(binding.lock)] = binding
                self._bind(key, binding)
            return binding.lock

    def rotate(self, old_key: Hashable, new_key: Hashable, held_lock: OwnedLock) -> None:
        with self._mutex:
            binding = self._by_lock.get(id(held_lock))
            if binding is None or binding.lock is not held_lock:
                raise ValueError(f"rotate({old_key!r}, {new_key!r}): the held lock does not come from this registry")
            current = self._current(new_key)
            if current is not None and current is not binding:
                raise ValueError(
                    f"rotate({old_key!r}, {new_key!r}): {new_key!r} is bound to another live lock; "
                    "merging two live locks would let two holders in"
                )
            self._sweep_if_grown()
            if current is None:
                self._bind(new_key, binding)
            if self._current(old_key) is None:
                self._bind(old_key, binding)

    def __len__(self) -> int:
        with self._mutex:
            self._sweep()
            return len(self._table)

    def _current(self, key: Hashable) -> _Binding | None:
        """The live binding of *key*; a dead one is forgotten on the way."""
        binding = self._table.get(key)
        if binding is not None and not _live(binding):
            self._forget(binding)
            return None
        return binding

    def _bind(self, key: Hashable, binding: _Binding) -> None:
        self._table[key] = binding
        binding.keys.append(key)

    def _forget(self, binding: _Binding) -> None:
        for key in binding.keys:
            if self._table.get(key) is binding:
                del self._table[key]
        del self._by_lock[id(binding.lock)]

    def _sweep(self) -> None:
        for binding in list(self._by_lock.values()):
            if not _live(binding):
                self._forget(binding)
        # A dict keeps its capacity after deletions: copy what is left (a sweep is O(n) anyway).
        self._table, self._by_lock = dict(self._table), dict(self._by_lock)
        self._sweep_at = max(SWEEP_MIN, 2 * len(self._table))

    def _sweep_if_grown(self) -> None:
        if len(self._table) >= self._sweep_at:
            self._sweep()


provider = Provider("alt-keyed-locks-refcounted-dict", keyed_locks=lambda ctx: RefcountedLocks())
