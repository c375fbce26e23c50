"""The source doubles of the respawn lifecycle (§1b).

A respawn tears a resource down with ``remove_source(key)`` and brings it
back with ``start_source(key)``.  :class:`GatedSources` provides both
callables to the provider's factory and lets the kit:

- **hold** a call inside a source, for one operation or for one key, with
  kit :class:`~pytest_lifecycle._doubles.Gate`\\ s (:meth:`GatedSources.hold`);
- **fail** the next calls on demand (:meth:`GatedSources.fail_next`);
- **look inside** a call: a hook runs in it, e.g. to read ``state()`` from
  inside ``start_source`` (:attr:`GatedSources.on_start`);
- **measure** overlap: how many calls are in flight per key and overall,
  and the most there ever were (:meth:`GatedSources.max_inflight`);
- **replay** the order: every call is logged with its sequence number, key,
  operation, thread and outcome (:meth:`GatedSources.calls`).

Keys are recorded as the provider passes them (a list becomes a tuple); the
brief's providers pass ``(name, workspace)``.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Callable, Hashable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, final

from pytest_lifecycle._doubles.agent import InjectedFailure

if TYPE_CHECKING:
    from pytest_lifecycle._core.gate import Gate
    from pytest_lifecycle._core.kit import Kit

__all__ = ["GatedSources", "Op", "SourceCall"]

Op = Literal["remove", "start"]
"""Which source: ``"remove"`` (``remove_source``) or ``"start"`` (``start_source``)."""

OPS: Final[tuple[Op, ...]] = ("remove", "start")

#: A hook run inside a source call with the key; see :attr:`GatedSources.on_start`.
SourceHook = Callable[[Hashable], None]


@final
@dataclass(slots=True)
class SourceCall:
    """One call of a source double, in the order calls arrived."""

    #: 1-based position among all calls of these doubles.
    seq: int
    op: Op
    key: Hashable
    #: Name of the thread the provider called from.
    thread: str
    #: ``"inside"`` while running, then ``"returned"`` or ``"raised Type: message"``.
    outcome: str = "inside"

    def __str__(self) -> str:
        return f"#{self.seq} {self.op}_source({self.key!r}) [{self.thread}] {self.outcome}"


@final
@dataclass(slots=True)
class _Failure:
    op: Op
    key: Hashable | None
    remaining: int
    exc: BaseException | type[BaseException] | None


def _normal(key: Any) -> Hashable:
    return tuple(key) if isinstance(key, list) else key


def _op(op: str) -> Op:
    if op not in OPS:
        raise ValueError(f"unknown source operation {op!r}; use one of {', '.join(OPS)}")
    return op


@final
class GatedSources:
    """``remove_source`` and ``start_source`` doubles the kit controls.

    Hand :attr:`remove_source` and :attr:`start_source` to the factory
    (``kit.context(remove_source=s.remove_source, start_source=s.start_source)``).

    :param kit: the kit that owns the gates and the trace.
    :param name: trace label (default ``sources``, ``sources-2``, …).

    :ivar on_remove: called as ``on_remove(key)`` inside every
        ``remove_source`` call, after the gates; its exceptions reach the
        provider, so a hook should record rather than raise.
    :ivar on_start: the same for ``start_source`` -- the place to observe
        ``state()`` from inside a start (RS-04).
    """

    def __init__(self, kit: Kit, name: str | None = None) -> None:
        self.name = name or kit.label("sources")
        self._kit = kit
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._calls: list[SourceCall] = []
        self._gates: dict[tuple[Op, Hashable | None], Gate] = {}
        self._failures: list[_Failure] = []
        self._inflight: Counter[Hashable] = Counter()
        self._max_inflight: Counter[Hashable] = Counter()
        self._total = 0
        self._max_total = 0
        self.on_remove: SourceHook | None = None
        self.on_start: SourceHook | None = None

    # -- the callables the provider gets -----------------------------------

    def remove_source(self, key: Hashable) -> None:
        """Tear the resource down (held, failed and recorded as the kit says)."""
        self._call("remove", key)

    def start_source(self, key: Hashable) -> None:
        """Start the resource (held, failed and recorded as the kit says)."""
        self._call("start", key)

    def _call(self, op: Op, key: Any) -> None:
        key = _normal(key)
        thread = threading.current_thread().name
        with self._lock:
            call = SourceCall(next(self._seq), op, key, thread)
            self._calls.append(call)
            self._inflight[key] += 1
            self._max_inflight[key] = max(self._max_inflight[key], self._inflight[key])
            self._total += 1
            self._max_total = max(self._max_total, self._total)
            gates = [g for g in (self._gates.get((op, None)), self._gates.get((op, key))) if g is not None]
        self._kit.note(f"{self.name}.{op}_source({key!r}) #{call.seq} [{thread}]")
        try:
            with ExitStack() as held:
                for gate in gates:
                    held.enter_context(gate.passage())
                hook = self.on_remove if op == "remove" else self.on_start
                if hook is not None:
                    hook(key)
                failure = self._take_failure(op, key)
            if failure is not None:
                raise failure
        except BaseException as exc:
            call.outcome = f"raised {type(exc).__name__}: {exc}"
            self._kit.note(f"{self.name}.{op}_source({key!r}) #{call.seq} raised {type(exc).__name__}: {exc}")
            raise
        else:
            call.outcome = "returned"
        finally:
            with self._lock:
                self._inflight[key] -= 1
                if not self._inflight[key]:
                    del self._inflight[key]
                self._total -= 1

    def _take_failure(self, op: Op, key: Hashable) -> BaseException | None:
        with self._lock:
            for failure in self._failures:
                if failure.op == op and failure.remaining > 0 and failure.key in (None, key):
                    failure.remaining -= 1
                    exc = failure.exc
                    break
            else:
                return None
        if isinstance(exc, BaseException):
            return exc
        cls = InjectedFailure if exc is None else exc
        return cls(f"{self.name}: injected {op}_source failure for {key!r}")

    # -- what the kit controls ---------------------------------------------

    def gate(self, op: str, key: Hashable | None = None) -> Gate:
        """The gate every *op* call (for *key*, or for any key) walks through.

        Created open on first use; only calls that start after it exists use it.
        """
        op = _op(op)
        key = _normal(key)
        with self._lock:
            gate = self._gates.get((op, key))
            if gate is None:
                suffix = "" if key is None else f"[{key!r}]"
                gate = self._gates[(op, key)] = self._kit.gate(f"{self.name}.{op}_source{suffix}")
            return gate

    def hold(self, op: str, key: Hashable | None = None) -> Gate:
        """Hold later *op* calls (for *key*, or for any key) inside the source."""
        gate = self.gate(op, key)
        gate.close()
        return gate

    def release(self, op: str | None = None, key: Hashable | None = None) -> None:
        """Open the gates of *op* (default both) for *key* (default: every gate of *op*)."""
        key = _normal(key)
        with self._lock:
            gates = [g for (o, k), g in self._gates.items() if (op is None or o == op) and (key is None or k == key)]
        for gate in gates:
            gate.open()

    def wait_entered(self, op: str, n: int = 1, *, key: Hashable | None = None, unless: Any = None) -> None:
        """Wait until *n* *op* calls (for *key*) have reached the gate; see :meth:`Gate.wait_entered`."""
        __tracebackhide__ = True
        self.gate(op, key).wait_entered(n, unless=unless)

    def fail_next(
        self,
        key: Hashable | None = None,
        n: int = 1,
        exc: BaseException | type[BaseException] | None = None,
        *,
        op: str = "start",
    ) -> GatedSources:
        """Make the next *n* *op* calls (for *key*, or for any key) raise.

        :param exc: an exception instance to raise as is, a class to raise
            with a message naming the call, or ``None`` for
            :class:`~pytest_lifecycle.InjectedFailure`.
        :param op: ``"start"`` (the default) or ``"remove"``.

        The decision is taken when a call leaves its gates, so a call already
        held inside a source can still be made to fail.
        """
        if n < 1:
            raise ValueError(f"fail_next(n={n}): n must be at least 1")
        with self._lock:
            self._failures.append(_Failure(_op(op), _normal(key), n, exc))
        return self

    # -- what the kit measures ---------------------------------------------

    def calls(self, key: Hashable | None = None, op: str | None = None) -> list[SourceCall]:
        """The calls so far (for *key*, of *op*), in arrival order."""
        key = _normal(key)
        with self._lock:
            return [c for c in self._calls if (key is None or c.key == key) and (op is None or c.op == op)]

    def count(self, op: str | None = None, key: Hashable | None = None) -> int:
        """How many calls (of *op*, for *key*) arrived."""
        return len(self.calls(key, op))

    def inflight(self, key: Hashable | None = None) -> int:
        """Calls inside a source right now, for *key* or overall."""
        key = _normal(key)
        with self._lock:
            return self._total if key is None else self._inflight[key]

    def max_inflight(self, key: Hashable | None = None) -> int:
        """The most calls ever inside a source at once, for *key* or overall."""
        key = _normal(key)
        with self._lock:
            return self._max_total if key is None else self._max_inflight[key]

    def log(self, key: Hashable | None = None) -> str:
        """The calls (for *key*) as one line, for failure messages."""
        return "; ".join(map(str, self.calls(key))) or "no source calls"

    def __repr__(self) -> str:
        return self.name
