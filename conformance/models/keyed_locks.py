"""The sequential model of a keyed lock registry (§3): which key resolves to which lock, who holds it.

Threads ``T0``, ``T1``, … and logical locks ``L1``, ``L2``, … (the model
never sees a provider's lock objects; it says which calls must return the
*same* lock).  :class:`Model` keeps the bindings key → lock, the holder of
each lock and the threads that still reference it, and each transition
returns the :class:`Op` a correct registry must show:

- :meth:`Model.acquire` — ``lock_for(key)`` is the lock every other thread
  got for any key bound to it while it is live (LK-01, LK-04, LK-06), or,
  for a key bound to nothing live, a lock no other live key resolves to
  (LK-03); ``acquire(timeout=0)`` succeeds exactly when nobody holds that
  lock (LK-02);
- :meth:`Model.rotate` — afterwards ``new`` resolves to the held lock and the
  old key keeps resolving to it (LK-04, LK-06), also when the old key was
  bound to nothing live (LK-05; the contract does not say whether such a
  key is bound afterwards, so the model retires it);
- :meth:`Model.prune` — once every thread dropped the (unheld) lock, its
  entries disappear (LK-07);
- after every operation ``len(registry)`` is in :meth:`Model.entries`: keys
  bound to a live lock, rotated aliases included (LK-07).

A lock is *live* while some thread references it: that is when identity
must hold.  Where the contract leaves a case open (a re-entrant try, a
rotation onto another live lock's key) the transition returns ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Held", "Model", "Op"]


@dataclass(frozen=True)
class Held:
    """A lock a schedule thread holds (the machine's ``held`` bundle)."""

    thread: int
    lock: int
    key: str

    def __repr__(self) -> str:
        return f"Held(T{self.thread}, L{self.lock} via {self.key!r})"


@dataclass
class Op:
    """One scheduled operation and what the model says it must observe."""

    thread: int
    kind: str
    lock: int
    key: str = ""
    new: str = ""
    #: ``acquire``: the key was bound to nothing live, so the lock is new.
    fresh: bool = False
    #: ``acquire``: what ``acquire(timeout=0)`` must return.
    expect: bool = False
    #: ``acquire`` of a fresh key: the live locks it must not be.
    others: frozenset[int] = frozenset()
    #: The range ``len(registry)`` must be in afterwards.
    entries: tuple[int, int] = (0, 0)
    #: The model's bindings afterwards, for failure messages.
    bindings: str = ""

    def __str__(self) -> str:
        who = f"T{self.thread}"
        if self.kind == "acquire":
            lock = f"L{self.lock}" + (" (new)" if self.fresh else "")
            return f"{who} lock_for({self.key!r}).acquire(timeout=0) -> {self.expect} [{lock}]"
        if self.kind == "release":
            return f"{who} release L{self.lock}"
        if self.kind == "rotate":
            return f"{who} rotate({self.key!r}, {self.new!r}, L{self.lock})"
        return f"{who} prune L{self.lock} (every reference dropped)"


@dataclass
class Model:
    """Which key resolves to which logical lock, who holds it, who references it."""

    bound: dict[str, int] = field(default_factory=dict)
    #: Keys rotated away from while bound to nothing live: may or may not be
    #: bound to that lock now, so they are never used again.
    retired: dict[str, int] = field(default_factory=dict)
    holder: dict[int, int | None] = field(default_factory=dict)
    refs: dict[int, set[int]] = field(default_factory=dict)
    next_lock: int = 1

    def entries(self) -> tuple[int, int]:
        maybe = sum(1 for lock in self.retired.values() if lock in self.refs)
        return len(self.bound), len(self.bound) + maybe

    def bindings(self) -> str:
        by_lock: dict[int, list[str]] = {}
        for key, lock in sorted(self.bound.items()):
            by_lock.setdefault(lock, []).append(key)
        parts = []
        for lock, keys in sorted(by_lock.items()):
            holder = self.holder[lock]
            held = f" held by T{holder}" if holder is not None else ""
            parts.append(f"{','.join(repr(k) for k in keys)}->L{lock}{held}")
        return "; ".join(parts) or "no entries"

    # -- transitions -------------------------------------------------------------

    def _op(self, op: Op) -> Op:
        op.entries = self.entries()
        op.bindings = self.bindings()
        return op

    def acquire(self, thread: int, key: str) -> Op | None:
        """*thread* calls ``lock_for(key).acquire(timeout=0)`` and keeps its reference (LK-01…LK-03)."""
        if key in self.retired:
            return None
        lock = self.bound.get(key)
        if lock is not None and self.holder[lock] == thread:
            return None  # a re-entrant try: the contract leaves it open
        fresh = lock is None
        others = frozenset(self.refs)
        if lock is None:
            lock, self.next_lock = self.next_lock, self.next_lock + 1
            self.bound[key], self.holder[lock], self.refs[lock] = lock, None, set()
        got = self.holder[lock] is None
        self.refs[lock].add(thread)
        if got:
            self.holder[lock] = thread
        return self._op(Op(thread, "acquire", lock, key, fresh=fresh, expect=got, others=others))

    def release(self, held: Held) -> Op:
        """The holder releases; it keeps its reference."""
        self.holder[held.lock] = None
        return self._op(Op(held.thread, "release", held.lock, held.key))

    def rotate(self, held: Held, old: str, new: str) -> Op | None:
        """The holder calls ``rotate(old, new, lock)`` (LK-04, LK-05, LK-06)."""
        if old in self.retired or new in self.retired or self.bound.get(new, held.lock) != held.lock:
            return None  # new is another live lock's key: the contract leaves it open
        if old not in self.bound and old != new:
            self.retired[old] = held.lock
        self.bound[new] = held.lock
        return self._op(Op(held.thread, "rotate", held.lock, old, new))

    def prunable(self) -> bool:
        return any(holder is None for holder in self.holder.values())

    def prune(self, key: str) -> Op | None:
        """Every thread drops its references to the unheld lock of *key*: its entries go (LK-07)."""
        lock = self.bound.get(key)
        if lock is None or self.holder[lock] is not None:
            return None
        thread = min(self.refs[lock])
        for k in [k for k, v in self.bound.items() if v == lock]:
            del self.bound[k]
        del self.holder[lock], self.refs[lock]
        return self._op(Op(thread, "prune", lock, key))
