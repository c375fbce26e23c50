"""The SSE wire profile of stream resume (SSE-01..SSE-04, optional: ``sse``).

Over real HTTP: the kit drives the server under test through its control
surface (``PUT /streams/{id}``, ``POST /streams/{id}/events``, ``…/close``,
``…/keepalive``, ``DELETE /streams/{id}``) and reads ``GET
/streams/{id}/events`` with httpx + httpx-sse, as an ``EventSource`` would:
every ``id:`` field moves the client's cursor, and a reconnect sends it as
``Last-Event-ID``.  Nothing waits by sleeping: an event is awaited by
reading the stream, bounded by the kit timeout.

``--lifecycle-sse-url NAME=URL`` certifies a server in any language;
without it the selected provider's registry is served by the reference
server (see :mod:`conformance._sse_wire`).  The tests are exported by
:mod:`conformance.event_streams`.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from pytest_lifecycle import Kit

from ._sse_wire import Connection, Received, ServerSilent, Wire, kit_cursor, open_wire, wire_profile

__all__ = [
    "test_sse01_each_event_is_one_message_with_its_cursor_and_its_payload",
    "test_sse02_reconnects_at_random_points_resume_with_no_gap_and_no_duplicate",
    "test_sse03_closed_stream_ends_the_response_after_its_last_event",
    "test_sse03_deleted_stream_answers_410_or_404",
    "test_sse03_unknown_stream_answers_404",
    "test_sse04_keepalives_and_control_messages_never_move_the_cursor",
]

#: Payloads that trip a hand-rolled encoder: line breaks, text that looks
#: like SSE fields, quotes, non-ASCII.  Cursors start above 0 and have gaps,
#: so neither a message counter nor a position passes for them.
TRICKY: Final = [
    {"seq": 3, "text": "plain"},
    {"seq": 4, "text": "two\nlines\r\nand\ra carriage return"},
    {"seq": 9, "text": 'data: {"seq": 99}\n\nid: 99\n'},
    {"seq": 10, "text": "é ✓ 😀 \u2028 \x00"},
    {"seq": 11, "nested": {"list": [1, "two", None, True, -5], "quote": "\"'\\"}},
    {"seq": 12, "text": ""},
]


def _read_event(kit: Kit, connection: Connection, payload: Any) -> Received:
    """The next event *connection* delivers: it must carry *payload* (order and cursor)."""
    __tracebackhide__ = True
    seq = kit_cursor(payload)
    message = connection.next_event(f"seq={seq}")
    if message is None:
        kit.fail(f"{connection!r} ended before the event seq={seq} (last id received: {connection.cursor!r})")
    if message.seq != seq:
        got = [m.seq for m in connection.messages if m.is_event]
        kit.fail(f"{connection!r} delivered seq={message.seq} where seq={seq} was next (events it delivered: {got})")
    return message


def _read_through(kit: Kit, connection: Connection, payload: Any) -> None:
    """Read *connection* up to the event that carries *payload*.

    Events delivered again before it are SSE-02's business, not this test's.
    """
    __tracebackhide__ = True
    seq = kit_cursor(payload)
    deadline = connection.deadline()
    while (message := connection.next_event(f"seq={seq}", deadline)) is None or message.seq != seq:
        if message is None:
            kit.fail(f"{connection!r} ended before the event seq={seq} (last id received: {connection.cursor!r})")
        if message.seq is not None and message.seq > seq:
            kit.fail(f"{connection!r} delivered seq={message.seq} but never seq={seq}")


def _check_one_message(kit: Kit, message: Received, payload: Any) -> None:
    """SSE-01: the message's ``id:`` is the cursor, its ``data:`` the payload encoded once."""
    __tracebackhide__ = True
    seq = kit_cursor(payload)
    if message.id_after != str(seq):
        what = "carried no id:" if message.id_after == message.id_before else f"carried id: {message.id_after!r}"
        kit.fail(f"the message of event seq={seq} {what} (its cursor is {seq}): {message.describe()}")
    if message.encodings != 1:
        kit.fail(
            f"the data: of event seq={seq} is JSON encoded twice: data: {message.data!r} decodes to a string "
            "that holds the payload"
        )
    kit.check(
        message.payload == payload, f"the data: of event seq={seq} decodes to {message.payload!r}, emitted {payload!r}"
    )


@wire_profile("SSE-01")
def test_sse01_each_event_is_one_message_with_its_cursor_and_its_payload(lifecycle_kit: Kit) -> None:
    """SSE-01 (§4): each event is one SSE message; ``id:`` is its cursor, ``data:`` its payload encoded once.

    Half the events are history when the client connects, half are emitted
    live; the payloads carry line breaks, text that looks like SSE fields,
    quotes and non-ASCII.
    """
    kit = lifecycle_kit
    with open_wire(kit) as wire:
        stream = wire.new_stream()
        history, live = TRICKY[:3], TRICKY[3:]
        for payload in history:
            wire.emit(stream, payload)
        connection = wire.connect(stream)
        for payload in history:
            _check_one_message(kit, _read_event(kit, connection, payload), payload)
        for payload in live:
            wire.emit(stream, payload)
            _check_one_message(kit, _read_event(kit, connection, payload), payload)


# -- SSE-02 -------------------------------------------------------------------------


class _Resume:
    """One example of SSE-02: a script of emits, reads and reconnects on a fresh stream."""

    def __init__(self, kit: Kit, wire: Wire, first: int, gaps: list[int]) -> None:
        self.kit = kit
        self.wire = wire
        self.stream = wire.new_stream()
        self.next_seq = first
        self.gaps = gaps
        self.emitted: list[Any] = []
        self.received: list[int] = []
        self.connection: Connection | None = None
        self.cursor = ""

    def emit(self, count: int) -> None:
        for _ in range(count):
            payload = {"seq": self.next_seq, "n": len(self.emitted), "text": f"event {len(self.emitted)}\n"}
            self.next_seq += self.gaps[len(self.emitted) % len(self.gaps)]
            self.wire.emit(self.stream, payload)
            self.emitted.append(payload)

    def reconnect(self) -> Connection:
        if self.connection is not None:
            self.cursor = self.connection.cursor
            self.connection.close()
        self.connection = self.wire.connect(self.stream, self.cursor)
        return self.connection

    def read(self, count: int) -> None:
        connection = self.connection or self.reconnect()
        for _ in range(min(count, len(self.emitted) - len(self.received))):
            expected = self.emitted[len(self.received)]
            message = connection.next_event(f"seq={expected['seq']}")
            self.check(connection, message, expected)

    def check(self, connection: Connection, message: Received | None, expected: Any) -> None:
        __tracebackhide__ = True
        kit, seq = self.kit, expected["seq"]
        where = f"{connection!r}"
        if message is None:
            kit.fail(f"{where} ended before seq={seq}; reassembled so far: {self.received}")
        if message.seq != seq:
            emitted = [p["seq"] for p in self.emitted]
            if message.seq in self.received:
                why = f"a duplicate: seq={message.seq} was delivered already"
            elif message.seq is not None and message.seq > seq:
                missing = [s for s in emitted if seq <= s < message.seq]
                why = f"a gap: {missing} never delivered"
            else:
                why = "out of order"
            kit.fail(
                f"{where} delivered seq={message.seq} where seq={seq} was next: {why} "
                f"(reassembled so far: {self.received}; emitted: {emitted})"
            )
        twice = " (JSON encoded twice)" if message.encodings == 2 else ""
        kit.check(
            message.payload == expected,
            f"{where}: the data: of seq={seq} decodes once to {message.payload!r}{twice}, emitted {expected!r}",
        )
        self.received.append(seq)

    def finish(self) -> None:
        # Two more events, read through: a duplicate or a gap anywhere before
        # the last shows at once (a skipped event is followed by a later
        # one), without relying on how the server ends a response.
        self.emit(2)
        self.read(len(self.emitted))
        self.kit.expect(self.received, [p["seq"] for p in self.emitted], "the events reassembled across reconnects")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


@wire_profile("SSE-02")
def test_sse02_reconnects_at_random_points_resume_with_no_gap_and_no_duplicate(lifecycle_kit: Kit) -> None:
    """SSE-02 (§4): a reconnect with ``Last-Event-ID`` resumes at the first event after it, no gap, no duplicate.

    Hypothesis draws a script of emits, reads and disconnects (before,
    during and after the history): each reconnect sends the client's cursor
    as ``Last-Event-ID``, and the events reassembled across the connections
    must be exactly those emitted, in order, each ``data:`` decoded once
    equal to its payload.  A failure prints the shrunk script.
    """
    from hypothesis import Phase, given, settings
    from hypothesis import strategies as st

    from pytest_lifecycle.support import replay_note as _replay_note

    kit = lifecycle_kit
    step = st.one_of(
        st.tuples(st.just("emit"), st.integers(1, 3)),
        st.tuples(st.just("read"), st.integers(1, 4)),
        st.tuples(st.just("reconnect"), st.just(0)),
    )
    profile = kit.profile.hypothesis_settings()
    active = settings(profile, phases=[p for p in profile.phases if p is not Phase.explain])

    with open_wire(kit) as wire:

        @active
        @given(
            first=st.integers(0, 3),
            gaps=st.lists(st.integers(1, 3), min_size=1, max_size=3),
            script=st.lists(step, max_size=min(12, kit.profile.step_count)),
        )
        def resume(first: int, gaps: list[int], script: list[tuple[str, int]]) -> None:
            kit.restart_trace(f"SSE-02 example: first={first}, gaps={gaps}, script={script}")
            example = _Resume(kit, wire, first, gaps)
            try:
                for action, count in script:
                    if action == "emit":
                        example.emit(count)
                    elif action == "read":
                        example.read(count)
                    else:
                        example.reconnect()
                example.finish()
            finally:
                example.close()

        try:
            resume()
        except ServerSilent as silent:
            kit.fail(f"{silent} (not shrunk: every attempt would wait again)")
        except BaseException as exc:
            exc.add_note(_replay_note(kit, resume, active))
            raise


# -- SSE-03 -------------------------------------------------------------------------


@wire_profile("SSE-03")
def test_sse03_unknown_stream_answers_404(lifecycle_kit: Kit) -> None:
    """SSE-03 (§4): ``GET /streams/{id}/events`` of an id never created answers 404."""
    kit = lifecycle_kit
    with open_wire(kit) as wire:
        unknown = wire.unknown_id()
        kit.expect(wire.status_of(unknown), 404, f"GET /streams/{unknown}/events of an unknown stream")
        kit.expect(
            wire.status_of(unknown, "3"),
            404,
            f"GET /streams/{unknown}/events (Last-Event-ID: '3') of an unknown stream",
        )


@wire_profile("SSE-03")
def test_sse03_deleted_stream_answers_410_or_404(lifecycle_kit: Kit) -> None:
    """SSE-03 (§4): a deleted stream answers 410 (or 404 without tombstones), with or without ``Last-Event-ID``.

    A provider that claims ``tombstones`` must answer 410.
    """
    kit = lifecycle_kit
    allowed = (410,) if kit.provider.claims_capability("tombstones") else (410, 404)
    with open_wire(kit) as wire:
        stream = wire.new_stream()
        wire.emit(stream, {"seq": 5})
        wire.delete(stream)
        for last_event_id in ("", "5"):
            status = wire.status_of(stream, last_event_id)
            kit.check(
                status in allowed,
                f"GET /streams/{stream}/events (Last-Event-ID: {last_event_id!r}) of a deleted stream answered "
                f"{status}, expected {' or '.join(map(str, allowed))}",
            )


def _read_to_end(kit: Kit, connection: Connection, last: int | None, why: str) -> None:
    """*connection* delivers the event *last* (unless ``None``), then its response ends, within the kit timeout.

    Which events come before the end, and whether twice, is SSE-02's business.
    """
    __tracebackhide__ = True
    deadline = connection.deadline()
    while last is not None:
        message = connection.next_event(f"seq={last}, the last event of the stream", deadline)
        if message is None:
            kit.fail(f"{connection!r} ended before the last event seq={last} ({why})")
        if message.seq == last:
            break
    while connection.next_event(f"the end of the response ({why})", deadline) is not None:
        continue


@wire_profile("SSE-03")
def test_sse03_closed_stream_ends_the_response_after_its_last_event(lifecycle_kit: Kit) -> None:
    """SSE-03 (§4): a closed stream ends the response after its last event.

    Closed before the client connects (from the start, and resumed at the
    last event: it ends at once), and closed while the client reads.
    """
    kit = lifecycle_kit
    with open_wire(kit) as wire:
        closed = wire.new_stream()
        payloads = [{"seq": 2}, {"seq": 4}, {"seq": 7}]
        for payload in payloads:
            wire.emit(closed, payload)
        wire.close_stream(closed)
        first = wire.connect(closed)
        _read_to_end(kit, first, 7, "the stream was closed before the client connected")
        _read_to_end(
            kit, wire.connect(closed, first.cursor), None, "the stream is closed and the client resumed at its end"
        )

        live = wire.new_stream()
        connection = wire.connect(live)
        for payload in payloads:
            wire.emit(live, payload)
            _read_through(kit, connection, payload)
        wire.close_stream(live)
        _read_to_end(kit, connection, None, "the stream was closed while the client read it")


# -- SSE-04 -------------------------------------------------------------------------


def _check_controls(kit: Kit, connection: Connection) -> None:
    """SSE-04: no control message moves the cursor past events, or reaches the client as an event.

    Its ``id:`` may leave the cursor where it was, or set it back to an id
    the client already had, or to none: a reconnect then gets events again,
    never misses one.
    """
    __tracebackhide__ = True
    had = {"", connection.resumed_from}
    for message in connection.messages:
        had.add(message.id_before)
        if message.is_event:
            continue
        if message.id_after not in had:
            kit.fail(
                f"{connection!r}: a {message.describe()} moved the client's cursor from {message.id_before!r} to "
                f"{message.id_after!r}, an id no event carried; a reconnect would resume after {message.id_after!r}"
            )
        if message.event == "message" and message.data:
            kit.fail(
                f"{connection!r}: a {message.describe()} is of the default type with data: an EventSource "
                "client hands it to its message handler as an event (send a comment, or a named event type)"
            )


@wire_profile("SSE-04")
def test_sse04_keepalives_and_control_messages_never_move_the_cursor(lifecycle_kit: Kit) -> None:
    """SSE-04 (§4): keep-alives and other control messages are not events and never move the client's cursor.

    Keep-alives are asked for (``POST /streams/{id}/keepalive``) before the
    first event, between events and right after a resume, each followed by
    an event that the kit reads through, so every message the server sent
    before it is seen.  A message that carries no emitted event must leave
    the client's cursor where it was, and must not reach an ``EventSource``
    client as an event (default type with data).
    """
    kit = lifecycle_kit
    with open_wire(kit) as wire:
        stream = wire.new_stream()
        connection = wire.connect(stream)
        if not wire.keepalive(stream):
            pytest.skip(
                f"server {wire.name!r} offers no POST /streams/{{id}}/keepalive: keep-alives cannot be asked for"
            )
        for payload in ({"seq": 6}, {"seq": 8}):
            wire.emit(stream, payload)
            _read_through(kit, connection, payload)
            wire.keepalive(stream)
        connection.close()
        _check_controls(kit, connection)
        resumed = wire.connect(stream, connection.cursor)
        wire.keepalive(stream)
        for payload in ({"seq": 13}, {"seq": 14}):
            wire.emit(stream, payload)
            _read_through(kit, resumed, payload)
            wire.keepalive(stream)
        _check_controls(kit, resumed)
