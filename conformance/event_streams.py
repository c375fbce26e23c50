"""Conformance suite of the stream-resume contract (§4).

One or more tests per rule, ``ST-01`` … ``ST-13``, each marked with
``@pytest.mark.rule`` and named after it.  The scenarios come from the
incident the contract records: a durable agent whose event ids restarted
with every request, whose single-consumer queue made a reconnecting client
miss events, and whose recovered handler had to continue the sequence from
the last durable cursor.

Every provider call runs on the kit's own event loop, one step at a time
(:class:`~pytest_lifecycle.support.Streams`): the kit starts a call, runs the loop
until every task is blocked, and only then looks.  A check of *live*
delivery starts a read first (a pending ``__anext__``, the loop run until
idle) and emits after, so the events are live whether the provider attaches
a subscriber at ``subscribe()`` or at its first read (open choice
``ST/attach``).  A read that still waits once the loop is idle, although its
event was emitted, is a missed event -- at once, without a timeout.

The kit's payloads are ``{"seq": n, "data": ...}``; its ``cursor_fn`` reads
``payload["seq"]``.  The model-based rule (ST-13) lives in
:mod:`conformance._event_streams_machine`, the crash rules (ST-10, ST-11) in
:mod:`conformance._event_streams_durable`.

Use in a project's own tests::

    from conformance.event_streams import *
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_lifecycle import Kit
from pytest_lifecycle.support import END, TTL_SECONDS, Streams, event

from ._event_streams_durable import (
    test_st10_crash_inside_emit_with_close_keeps_it_atomic,
    test_st10_emit_returns_after_the_event_is_durable,
    test_st10_restart_brings_back_events_cursors_and_state,
    test_st10_sigkill_of_a_writer_loses_no_emitted_event,
    test_st11_corrupt_middle_record_is_a_clear_error,
    test_st11_second_writer_is_refused,
    test_st11_torn_last_record_is_dropped,
    test_st11_write_cut_at_byte_offset,
)
from ._event_streams_machine import test_st13_model_conformance
from ._event_streams_sse import *  # noqa: F403  (the SSE wire profile, SSE-01..SSE-04)
from ._event_streams_sse import __all__ as _SSE_TESTS
from ._event_streams_support import (
    check_read,
    deleted_kinds,
    emit_all,
    expect_items,
    expect_next,
    expect_waiting,
    raises_gone,
)

__all__ = [
    "test_st01_close_is_idempotent",
    "test_st01_delete_makes_it_gone",
    "test_st01_new_stream_is_active",
    "test_st02_calls_on_deleted_stream_raise_at_the_call",
    "test_st02_emit_on_closed_raises_closed",
    "test_st03_last_cursor_is_the_highest_emitted",
    "test_st04_event_between_subscribe_and_first_read",
    "test_st04_late_subscriber_gets_history_then_live",
    "test_st04_subscribers_never_steal_from_each_other",
    "test_st05_after_filters_history",
    "test_st05_after_filters_live_events",
    "test_st05_resume_between_cursors_and_mid_stream",
    "test_st06_close_lets_subscribers_drain",
    "test_st06_emit_with_close_is_atomic",
    "test_st07_after_beyond_the_end_ends_a_closed_stream",
    "test_st07_after_beyond_the_end_waits_on_an_active_stream",
    "test_st08_get_delete_and_recreate",
    "test_st08_get_or_create_is_one_stream_under_concurrency",
    "test_st09_expired_closed_stream_is_gone",
    "test_st09_expired_events_are_not_replayed",
    "test_st09_handed_out_events_are_not_recalled",
    "test_st10_crash_inside_emit_with_close_keeps_it_atomic",
    "test_st10_emit_returns_after_the_event_is_durable",
    "test_st10_restart_brings_back_events_cursors_and_state",
    "test_st10_sigkill_of_a_writer_loses_no_emitted_event",
    "test_st11_corrupt_middle_record_is_a_clear_error",
    "test_st11_second_writer_is_refused",
    "test_st11_torn_last_record_is_dropped",
    "test_st11_write_cut_at_byte_offset",
    "test_st12_ids_cannot_escape_the_directory",
    "test_st13_model_conformance",
]
__all__ += _SSE_TESTS

#: ST-12: ids that would leave the directory if used as a file name (the
#: directory is four levels below the test's own, so every ``..`` lands in it).
HOSTILE_IDS = (
    "../escape",
    "../../escape",
    "../../../../escape",
    "a/../../../../../escape",
    "..",
    ".",
    "a/b",
    "a/",
    "..\\..\\escape",
    "nul\x00byte",
    "\x00",
    "",
    " ",
    "x" * 4096,
    "..\x00",
    "%2e%2e%2fescape",
    "\u2025escape",
    "~",
    ".hidden",
    "-",
    "escape\n",
    "*",
)

# -- ST-01 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-01")
def test_st01_new_stream_is_active(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-01 A new stream is active: no cursor yet, it takes events and its subscribers wait for more."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    kit.expect(stream.last_cursor(), None, f"{stream}.last_cursor() of a new stream")
    sub = stream.subscribe()
    expect_waiting(kit, sub, "a new stream is active: its subscriber waits for events")
    stream.emit(event(1))
    check_read(kit, sub.current, event(1), "an active stream delivers what is emitted")  # type: ignore[arg-type]
    expect_waiting(kit, sub, "an active stream does not end by itself")


@pytest.mark.rule("ST-01")
def test_st01_close_is_idempotent(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-01 close() makes a stream closed, and a second close() changes nothing."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [1, 2])
    stream.close()
    event_streams.raises(("closed",), lambda: stream.emit(event(3)), f"{stream}.emit() after close()")
    stream.close()  # idempotent: must not raise
    event_streams.raises(("closed",), lambda: stream.emit(event(3)), f"{stream}.emit() after a second close()")
    kit.expect(stream.last_cursor(), 2, f"{stream}.last_cursor() after two closes")
    expect_items(kit, stream.subscribe(), [1, 2], "a closed stream replays what it had, then ends", then="end")


@pytest.mark.rule("ST-01")
def test_st01_delete_makes_it_gone(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-01 Deleting a stream makes it gone: get() no longer finds a stream."""
    registry = event_streams.new()
    for closed in (False, True):
        name = f"s-{closed}"
        stream = registry.get_or_create(name)
        stream.emit(event(1), close=closed)
        registry.delete(name)
        event_streams.raises(
            deleted_kinds(lifecycle_kit), lambda: registry.get(name), f"{registry}.get({name!r}) after delete"
        )


# -- ST-02 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-02")
def test_st02_emit_on_closed_raises_closed(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-02 emit on a closed stream raises *closed*, whether closed by close() or by emit(x, close=True)."""
    registry = event_streams.new()
    a = registry.get_or_create("a")
    a.close()
    event_streams.raises(("closed",), lambda: a.emit(event(1)), f"{a}.emit() on a stream closed empty")
    b = registry.get_or_create("b")
    b.emit(event(1), close=True)
    event_streams.raises(("closed",), lambda: b.emit(event(2)), f"{b}.emit() after emit(x, close=True)")
    again = registry.get("b")
    event_streams.raises(("closed",), lambda: again.emit(event(2)), f"{again}.emit() through a new handle")


@pytest.mark.rule("ST-02")
def test_st02_calls_on_deleted_stream_raise_at_the_call(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-02 emit, subscribe (at the call, not in the iterator) and last_cursor on a deleted stream raise gone/not found."""
    kit = lifecycle_kit
    registry = event_streams.new()
    stream = registry.get_or_create("s")
    emit_all(stream, [1, 2])
    registry.delete("s")
    raises_gone(kit, event_streams, lambda: stream.emit(event(3)), f"{stream}.emit() after delete")
    raises_gone(kit, event_streams, lambda: stream.last_cursor(), f"{stream}.last_cursor() after delete")
    # subscribe() itself must raise: an iterator that fails only when read
    # would look like a live subscription to a caller mapping errors to HTTP.
    raises_gone(kit, event_streams, lambda: stream.subscribe(), f"{stream}.subscribe() after delete (at the call)")
    raises_gone(
        kit, event_streams, lambda: stream.subscribe(0), f"{stream}.subscribe(after=0) after delete (at the call)"
    )


# -- ST-03 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-03")
def test_st03_last_cursor_is_the_highest_emitted(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-03 last_cursor is None before the first event, then the highest cursor emitted, also after close."""
    kit = lifecycle_kit
    registry = event_streams.new()
    stream = registry.get_or_create("s")
    kit.expect(stream.last_cursor(), None, f"{stream}.last_cursor() before the first emit")
    # Cursors with gaps: a count of events is not a cursor.
    for seq in (7, 19, 20, 1000):
        stream.emit(event(seq))
        kit.expect(stream.last_cursor(), seq, f"{stream}.last_cursor() after emitting cursor {seq}")
    stream.close()
    kit.expect(stream.last_cursor(), 1000, f"{stream}.last_cursor() after close()")
    kit.expect(registry.get("s").last_cursor(), 1000, "last_cursor() through a new handle after close()")
    other = registry.get_or_create("t")
    other.emit(event(3))
    other.emit(event(42), close=True)
    kit.expect(other.last_cursor(), 42, f"{other}.last_cursor() after emit(x, close=True)")
    empty = registry.get_or_create("u")
    empty.close()
    kit.expect(empty.last_cursor(), None, f"{empty}.last_cursor() of a stream closed before any event")


# -- ST-04 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-04")
def test_st04_subscribers_never_steal_from_each_other(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-04 Every subscriber gets the complete stream: history and live, independently of the others."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    a, b = stream.subscribe(), stream.subscribe()
    emit_all(stream, [1, 2, 3])
    expect_items(kit, a, [1, 2, 3], "the first subscriber", then="wait")
    expect_items(kit, b, [1, 2, 3], "a second subscriber gets the same events, not what the first left", then="wait")
    # Both reads are pending: one live event must reach both.
    stream.emit(event(4))
    check_read(kit, a.current, event(4), "a live event reaches every waiting subscriber")  # type: ignore[arg-type]
    check_read(kit, b.current, event(4), "a live event reaches every waiting subscriber")  # type: ignore[arg-type]
    c = stream.subscribe()
    expect_items(kit, c, [1, 2, 3, 4], "a third subscriber after the others read everything", then="wait")


@pytest.mark.rule("ST-04")
def test_st04_late_subscriber_gets_history_then_live(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-04 A late subscriber gets the history, then live events, with no gap, even when events arrive mid-history."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [1, 2, 3])
    late = stream.subscribe()
    expect_items(kit, late, [1], "the first event of the history")
    stream.emit(event(4))  # while the subscriber is inside its history
    expect_items(kit, late, [2, 3, 4], "the rest of the history, then the event emitted meanwhile", then="wait")
    stream.emit(event(5))
    check_read(kit, late.current, event(5), "then live events")  # type: ignore[arg-type]


@pytest.mark.rule("ST-04")
def test_st04_event_between_subscribe_and_first_read(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-04 An event emitted after subscribe() but before the first read is delivered (either attach point)."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [1])
    sub = stream.subscribe()
    emit_all(stream, [2, 3])
    expect_items(kit, sub, [1, 2, 3], "history and the events emitted before the first read", then="wait")


# -- ST-05 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-05")
def test_st05_after_filters_history(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-05 subscribe(after=N) replays exactly the events with cursor > N, in order, then waits for more."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [10, 20, 30, 40, 50])
    expect_items(kit, stream.subscribe(30), [40, 50], "after=30", then="wait")
    expect_items(kit, stream.subscribe(0), [10, 20, 30, 40, 50], "after=0, below every cursor", then="wait")
    expect_items(kit, stream.subscribe(), [10, 20, 30, 40, 50], "no after: everything", then="wait")
    expect_items(kit, stream.subscribe(None), [10, 20, 30, 40, 50], "after=None: everything", then="wait")
    tail = stream.subscribe(49)
    expect_items(kit, tail, [50], "after=49", then="wait")
    stream.emit(event(60))
    check_read(kit, tail.current, event(60), "then live events")  # type: ignore[arg-type]


@pytest.mark.rule("ST-05")
def test_st05_after_filters_live_events(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-05 A live event with cursor <= N is not delivered to subscribe(after=N) either."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [1, 2, 3])
    sub = stream.subscribe(100)
    pending = expect_waiting(kit, sub, "after=100 is beyond every event")
    for seq in (4, 50, 100):
        stream.emit(event(seq))
        if pending.done:
            check_read(kit, pending, event(101), f"cursor {seq} <= after=100 must not be delivered live")
    stream.emit(event(101))
    check_read(kit, pending, event(101), "the first live event with cursor > 100")
    stream.emit(event(102))
    expect_items(kit, sub, [102], "live events keep coming", then="wait")


@pytest.mark.rule("ST-05")
def test_st05_resume_between_cursors_and_mid_stream(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-05 Resuming at a cursor between events, and again where a reader stopped: no gap, no duplicate."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [2, 4, 6])
    first = stream.subscribe(3)
    expect_items(kit, first, [4], "after=3 lies between cursors 2 and 4")
    stream.emit(event(8))  # emitted while the reader is inside its history
    expect_items(kit, first, [6, 8], "history then the event emitted meanwhile", then="wait")
    # The client disconnects at cursor 8 and reconnects with after=8.
    first.cancel()
    stream.emit(event(10))
    again = stream.subscribe(8)
    expect_items(kit, again, [10], "a reconnect after cursor 8", then="wait")
    stream.emit(event(12))
    check_read(kit, again.current, event(12), "then live events")  # type: ignore[arg-type]


# -- ST-06 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-06")
def test_st06_close_lets_subscribers_drain(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-06 close() lets every subscriber read what was emitted before it, then ends them."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    reading, idle = stream.subscribe(), stream.subscribe()
    pending = expect_waiting(kit, reading, "nothing emitted yet")
    emit_all(stream, [1, 2, 3])
    check_read(kit, pending, event(1), "a waiting read gets the first event")
    stream.close()
    expect_items(kit, reading, [2, 3], "what was emitted before close() is still delivered", then="end")
    expect_items(kit, idle, [1, 2, 3], "a subscriber that had not read at all drains everything", then="end")
    expect_items(kit, stream.subscribe(), [1, 2, 3], "a subscriber after close()", then="end")
    waiting = stream.subscribe(3)
    expect_next(kit, waiting, END, "after=3 on the closed stream: nothing left")


@pytest.mark.rule("ST-06")
def test_st06_emit_with_close_is_atomic(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-06 emit(x, close=True): a subscriber sees x and the end, never one without the other."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    stream.emit(event(1))
    live, behind = stream.subscribe(1), stream.subscribe()
    pending = expect_waiting(kit, live, "after=1 on an active stream")
    stream.emit(event(2), close=True)
    check_read(kit, pending, event(2), "the event of emit(x, close=True) comes first")
    expect_next(kit, live, END, "then the end, at once")
    expect_items(kit, behind, [1, 2], "a subscriber behind", then="end")
    expect_items(kit, stream.subscribe(), [1, 2], "a subscriber after emit(x, close=True)", then="end")


# -- ST-07 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-07")
def test_st07_after_beyond_the_end_waits_on_an_active_stream(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-07 after beyond the last event on an active stream waits for newer events."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    emit_all(stream, [1, 2])
    sub = stream.subscribe(5)
    pending = expect_waiting(kit, sub, "after=5 beyond the last cursor 2 of an active stream")
    emit_all(stream, [3, 5])
    if pending.done:
        check_read(kit, pending, event(6), "cursors 3 and 5 are not newer than after=5")
    stream.emit(event(6))
    check_read(kit, pending, event(6), "the first event newer than after=5")
    empty = event_streams.new().get_or_create("e")
    expect_waiting(kit, empty.subscribe(7), "after=7 on an empty active stream")


@pytest.mark.rule("ST-07")
def test_st07_after_beyond_the_end_ends_a_closed_stream(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-07 after at or beyond the last event of a closed stream ends at once."""
    kit = lifecycle_kit
    registry = event_streams.new()
    stream = registry.get_or_create("s")
    emit_all(stream, [1, 2])
    stream.close()
    for after in (2, 3, 10**9):
        expect_next(kit, stream.subscribe(after), END, f"after={after} on a closed stream whose last cursor is 2")
    empty = registry.get_or_create("e")
    empty.close()
    expect_next(kit, empty.subscribe(), END, "a closed empty stream")
    expect_next(kit, empty.subscribe(5), END, "after=5 on a closed empty stream")


# -- ST-08 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-08")
def test_st08_get_or_create_is_one_stream_under_concurrency(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-08 Concurrent get_or_create of one id make one stream: what is emitted through any handle is in all."""
    kit = lifecycle_kit
    registry = event_streams.new()
    handles = registry.get_or_create_concurrently("s", 6)
    for n, handle in enumerate(handles, 1):
        handle.emit(event(n))
    seqs = list(range(1, len(handles) + 1))
    for handle in [*handles, registry.get("s")]:
        kit.expect(handle.last_cursor(), seqs[-1], f"{handle}.last_cursor(): one stream saw every emit")
        expect_items(kit, handle.subscribe(), seqs, "one stream holds the events of every handle", then="wait")


@pytest.mark.rule("ST-08")
def test_st08_get_delete_and_recreate(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-08 get of an unknown id is not found; delete is idempotent; after delete get is gone and get_or_create is fresh."""
    kit = lifecycle_kit
    registry = event_streams.new()
    event_streams.raises(("not_found",), lambda: registry.get("never"), f"{registry}.get('never')")
    stream = registry.get_or_create("s")
    emit_all(stream, [1, 2, 3])
    kit.expect(registry.get("s").last_cursor(), 3, "get() finds the stream get_or_create made")
    registry.delete("s")
    registry.delete("s")  # idempotent: must not raise
    event_streams.raises(deleted_kinds(kit), lambda: registry.get("s"), f"{registry}.get('s') after delete")
    fresh = registry.get_or_create("s")
    kit.expect(fresh.last_cursor(), None, "last_cursor() of the stream get_or_create makes after delete")
    sub = fresh.subscribe()
    expect_waiting(kit, sub, "a fresh stream after delete has no history and is active")
    fresh.emit(event(1))  # cursors start again: it is a new stream
    check_read(kit, sub.current, event(1), "the fresh stream delivers its own events")  # type: ignore[arg-type]
    kit.expect(registry.get("s").last_cursor(), 1, "get() finds the fresh stream")


# -- ST-09 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-09")
def test_st09_expired_events_are_not_replayed(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-09 Events older than ttl_seconds are not replayed to a late subscriber; younger ones are."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    stream.emit(event(1))
    kit.clock.advance(30)
    emit_all(stream, [2, 3])
    kit.clock.advance(31)  # event 1 is 61s old (> TTL), events 2 and 3 are 31s old
    expect_items(kit, stream.subscribe(), [2, 3], f"event 1 is older than the TTL ({TTL_SECONDS}s)", then="wait")
    expect_items(kit, stream.subscribe(0), [2, 3], "after=0: still only unexpired events", then="wait")
    kit.clock.advance(31)
    expect_waiting(kit, stream.subscribe(), "every event expired: a late subscriber of an active stream waits")
    kit.expect(stream.last_cursor(), 3, "last_cursor() is the highest cursor emitted, expired or not")


@pytest.mark.rule("ST-09")
def test_st09_handed_out_events_are_not_recalled(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-09 A subscriber keeps going after the events it got expired; a subscriber attached before expiry is not cut short."""
    kit = lifecycle_kit
    stream = event_streams.new().get_or_create("s")
    sub = stream.subscribe()
    pending = expect_waiting(kit, sub, "nothing emitted yet")
    stream.emit(event(1))
    check_read(kit, pending, event(1), "a live event")
    kit.clock.advance(TTL_SECONDS + 10)
    pending = expect_waiting(kit, sub, "the event it was handed expired: the subscriber is not ended, not rewound")
    stream.emit(event(2))
    check_read(kit, pending, event(2), "the next live event after the expiry")
    # Subscribed while event 2 was fresh, first read after it expired: the
    # subscriber gets it (attached at the call) or not (attached at the read).
    early = stream.subscribe()
    kit.clock.advance(TTL_SECONDS + 10)
    read = early.read()
    if read.done:
        check_read(kit, read, event(2), "subscribed while event 2 was fresh")
        kit.observe_choice(
            "ST/attach", "at-call", "an event fresh at subscribe() and expired at the first read was delivered"
        )
        read = expect_waiting(kit, early, "after the snapshot taken at the call")
    else:
        kit.observe_choice(
            "ST/attach",
            "at-first-read",
            "an event fresh at subscribe() and expired at the first read was not delivered",
        )
    stream.emit(event(3))
    check_read(kit, read, event(3), "then live events")


@pytest.mark.rule("ST-09")
def test_st09_expired_closed_stream_is_gone(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-09 A closed stream whose events have all expired becomes gone; before that it is still closed."""
    kit = lifecycle_kit
    registry = event_streams.new()
    stream = registry.get_or_create("s")
    stream.emit(event(1))
    stream.emit(event(2), close=True)
    kit.clock.advance(TTL_SECONDS - 10.5)
    expect_items(kit, registry.get("s").subscribe(), [1, 2], "not expired yet: the closed stream replays", then="end")
    kit.clock.advance(21)
    event_streams.raises(
        deleted_kinds(kit),
        lambda: registry.get("s"),
        f"{registry}.get('s') once every event of the closed stream expired",
    )


# -- ST-12 -----------------------------------------------------------------------------


@pytest.mark.rule("ST-12")
def test_st12_ids_cannot_escape_the_directory(lifecycle_kit: Kit, event_streams: Streams, tmp_path: Path) -> None:
    """ST-12 Any id is accepted or cleanly rejected, and no file appears outside ctx.path."""
    kit = lifecycle_kit
    store = tmp_path / "d1" / "d2" / "d3" / "store"
    store.mkdir(parents=True)
    registry = event_streams.new(event_streams.context_at(store))
    before = set(tmp_path.rglob("*"))
    accepted = []
    for stream_id in (*HOSTILE_IDS, str(tmp_path / "absolute-escape")):
        try:
            stream = registry.get_or_create(stream_id)
        except Exception as exc:  # a clean refusal is fine (ST-12)
            kit.note(f"get_or_create({stream_id[:40]!r}) refused: {type(exc).__name__}")
            continue
        accepted.append(stream_id[:40])
        stream.emit(event(1), close=True)
        kit.check(
            registry.get(stream_id).last_cursor() == 1, f"{stream_id[:40]!r}: accepted, but get() finds another stream"
        )
        registry.delete(stream_id)
    outside = sorted(
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if p not in before and store not in p.parents and p != store
    )
    kit.check(not outside, f"files appeared outside ctx.path: {outside} (accepted ids: {accepted!r})")
