"""Checks shared by the stream-resume suite (§4); private.

Every read is started on the kit's loop and looked at once the loop is idle:
a read that is still waiting *is* waiting (every task is blocked), so "the
event was emitted but the subscriber did not get it" is a failure at once,
with no timeout involved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_lifecycle import Kit
from pytest_lifecycle.support import END, Read, Stream, Streams, Subscriber, event, short_repr

#: The kinds of error a call on a deleted stream may raise.
GONE_OR_NOT_FOUND = ("gone", "not_found")


def seq_of(value: Any) -> Any:
    return value.get("seq", value) if isinstance(value, dict) else value


def show(value: Any) -> str:
    return "END" if value is END else short_repr(value)


def check_read(kit: Kit, read: Read, expected: Any, why: str) -> None:
    """*read* (done now that the loop is idle) yielded *expected* (a payload, or ``END``)."""
    __tracebackhide__ = True
    sub = read.subscriber
    if not read.done:
        kit.fail(f"{sub}: the read is still waiting (the loop is idle), expected {show(expected)} ({why})")
    kind, value = read.outcome()
    kit.note(f"{sub}: next {read.describe()}")
    if expected is END:
        if kind != "end":
            kit.fail(f"{sub}: {read.describe()}, expected the end of the stream ({why})")
    elif kind != "item" or value != expected:
        kit.fail(f"{sub}: {read.describe()}, expected {show(expected)} ({why})")
    sub.current = None


def expect_next(kit: Kit, sub: Subscriber, expected: Any, why: str) -> None:
    """The next read of *sub* yields *expected* at once (it was emitted, or the stream ended)."""
    __tracebackhide__ = True
    check_read(kit, sub.read(), expected, why)


def expect_items(kit: Kit, sub: Subscriber, seqs: Iterable[int], why: str, *, then: str | None = None) -> None:
    """*sub* yields exactly the events *seqs*, in order; then waits (``then="wait"``) or ends (``"end"``)."""
    __tracebackhide__ = True
    got: list[Any] = []
    wanted = list(seqs)
    for seq in wanted:
        read = sub.read()
        if not read.done:
            kit.fail(
                f"{sub}: got {got}, then the read waits (the loop is idle), expected cursor {seq} next; "
                f"expected {wanted} ({why})"
            )
        kind, value = read.outcome()
        kit.note(f"{sub}: next {read.describe()}")
        sub.current = None
        if kind != "item" or value != event(seq):
            detail = read.describe()
            if kind == "item":
                detail = f"yielded cursor {seq_of(value)!r}" + (" (payload differs)" if seq_of(value) == seq else "")
            kit.fail(f"{sub}: got {got}, then {detail}, expected cursor {seq}; expected {wanted} ({why})")
        got.append(seq)
    if then == "wait":
        expect_waiting(kit, sub, f"after {wanted}: {why}")
    elif then == "end":
        expect_next(kit, sub, END, f"after {wanted}: {why}")


def expect_waiting(kit: Kit, sub: Subscriber, why: str) -> Read:
    """The next read of *sub* waits (the loop is idle and it has nothing); the read is left pending."""
    __tracebackhide__ = True
    read = sub.read()
    if read.done:
        kit.fail(f"{sub}: {read.describe()}, expected it to wait ({why})")
    return read


def emit_all(stream: Stream, seqs: Iterable[int]) -> None:
    for seq in seqs:
        stream.emit(event(seq))


def raises_gone(kit: Kit, streams: Streams, call: Any, what: str) -> str:
    """*call* raises *gone*, or *not found* (accepted as well: the rule allows both)."""
    __tracebackhide__ = True
    return streams.raises(GONE_OR_NOT_FOUND, call, what)


def deleted_kinds(kit: Kit) -> tuple[str, ...]:
    """What ``get`` of a deleted id may raise: *gone* with tombstones, else *gone* or *not found*."""
    return ("gone",) if kit.provider.claims_capability("tombstones") else GONE_OR_NOT_FOUND
