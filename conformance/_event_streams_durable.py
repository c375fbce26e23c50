"""ST-10 and ST-11: what a durable stream registry keeps across crashes (§4).

Three kinds of crash, from the gentlest:

- a *restart*: a new instance on the same directory while the old one is
  left as it is (§0);
- a real ``SIGKILL`` of a child process that emits in a loop, at varied
  moments, and a child killed by ``SIGXFSZ`` at an exact byte offset of the
  write of an event (:class:`~pytest_lifecycle.support.CrashHarness`);
- a torn or damaged record made by the kit itself: it learns which file an
  emit appended to and where the record starts, then truncates a copy of the
  directory inside the last record, or overwrites bytes in the middle of an
  earlier one.

A SIGKILL cannot reveal a missing ``fsync`` (the page cache survives the
process), so "``emit`` returns only once the event is durable" is checked on
the file operations of each emit (:class:`~pytest_lifecycle.support.FileOps`): an
fsync of a file under ``ctx.path`` inside the call, and a directory fsync
after a file was created.  The crash tests rebuild the provider in a child
process and need an import spec (``--lifecycle-provider module:attribute``
or an entry point); without one they are skipped (the rule is then
*incomplete*, never passed).
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import zlib
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import Context, Kit, RuleViolation
from pytest_lifecycle.support import FileOps, Stream, Streams, event

from . import _event_streams_crash as crash
from ._crash_child import child_ok, start_harness
from ._event_streams_support import GONE_OR_NOT_FOUND, check_read, emit_all, expect_items, expect_waiting

__all__ = [
    "test_st10_crash_inside_emit_with_close_keeps_it_atomic",
    "test_st10_emit_returns_after_the_event_is_durable",
    "test_st10_restart_brings_back_events_cursors_and_state",
    "test_st10_sigkill_of_a_writer_loses_no_emitted_event",
    "test_st11_corrupt_middle_record_is_a_clear_error",
    "test_st11_second_writer_is_refused",
    "test_st11_torn_last_record_is_dropped",
    "test_st11_write_cut_at_byte_offset",
]

#: SIGKILLs of the emitting child (each one also a recovery by the next child).
KILLS = 6


# -- helpers ------------------------------------------------------------------------


def _spec(kit: Kit) -> str:
    spec = kit.provider.spec
    if spec is None:
        pytest.skip(
            f"provider {kit.provider.name!r} ({kit.provider.origin}) has no import spec (module:attribute); "
            f"the crash tests of {kit.rule.id} rebuild the provider in a child process and need one: "
            "select it with --lifecycle-provider module:attribute or an entry point"
        )
    return spec


def _args(kit: Kit, spec: str, ctx: Context, stream_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": spec,
        "path": str(ctx.path),
        "clock": kit.clock(),
        "stream": stream_id,
        "timeout": kit.timeout,
        **extra,
    }


def _sizes(path: Path) -> dict[Path, int]:
    return {p: p.stat().st_size for p in path.rglob("*") if p.is_file()}


def _appended(kit: Kit, stream: Stream, ctx: Context, seqs: list[int]) -> tuple[Path, list[int]] | None:
    """Emit *seqs* one by one; the file every emit appended to and its size before each and after the last.

    ``None`` when the emits did not all grow one file (the provider does not
    append: the kit cannot place a record boundary).
    """
    sizes = [_sizes(ctx.path)]
    for seq in seqs:
        stream.emit(event(seq))
        sizes.append(_sizes(ctx.path))
    grown = [{p for p, n in after.items() if n > before.get(p, 0)} for before, after in itertools.pairwise(sizes)]
    common = set.intersection(*grown) if grown else set()
    if len(common) != 1:
        kit.note(f"the emits did not append to one file ({[sorted(g) for g in grown]})")
        return None
    (log,) = common
    return log, [s.get(log, 0) for s in sizes]


def _history(kit: Kit, stream: Stream) -> list[Any]:
    """The cursors ``subscribe()`` replays, until it waits or ends."""
    sub = stream.subscribe()
    # A payload that is not one of the kit's events is kept whole, to be shown.
    seqs: list[Any] = []
    while len(seqs) < 10_000:
        read = sub.read()
        if not read.done:
            sub.cancel()
            break
        kind, value = read.outcome()
        sub.current = None
        if kind == "end":
            break
        if kind == "error":
            raise value
        seqs.append(value.get("seq") if isinstance(value, dict) and value == event(value.get("seq", -1)) else value)
    kit.note(f"{sub}: history {seqs}")
    return seqs


# -- ST-10 ---------------------------------------------------------------------------


@pytest.mark.rule("ST-10")
def test_st10_emit_returns_after_the_event_is_durable(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-10 Each emit fsyncs a file under ctx.path before it returns; a file it created has its directory fsynced."""
    kit = lifecycle_kit
    registry = event_streams.new()
    recorder = FileOps(registry.ctx.path).start()
    kit.on_close(recorder.stop)
    root = recorder.root
    existing = set(_sizes(registry.ctx.path))
    stream = registry.get_or_create("s")
    for n, close in ((1, False), (2, False), (3, True)):
        mark = recorder.mark()
        stream.emit(event(n), close=close)
        ops = recorder.since(mark)
        synced = [op for op in ops if op.kind == "fsync" and not op.is_dir and recorder.inside(op.path)]
        kit.check(
            synced,
            f"{stream}.emit(cursor {n}{', close=True' if close else ''}) returned without an fsync of a "
            f"file under ctx.path (recorded: {[op.describe(root) for op in ops] or 'nothing'})",
        )
    ops = recorder.ops
    created = sorted(set(_sizes(registry.ctx.path)) - existing)
    for path in created:
        opened = [op.seq for op in ops if op.kind == "open" and op.writes and op.path == os.path.normpath(path)]
        dir_synced = [op.seq for op in ops if op.kind == "fsync" and op.is_dir and opened and op.seq > opened[0]]
        kit.check(
            dir_synced,
            f"{path.name} was created but its directory was never fsynced after it: after a power "
            f"loss the file (and every event in it) may be gone "
            f"(recorded: {[op.describe(root) for op in ops]})",
        )


@pytest.mark.rule("ST-10")
def test_st10_restart_brings_back_events_cursors_and_state(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-10 A new instance on the same directory has the same events, cursors and states; the producer continues at last + 1."""
    kit = lifecycle_kit
    registry = event_streams.new()
    active = registry.get_or_create("active")
    emit_all(active, [3, 5, 9])
    closed = registry.get_or_create("closed")
    closed.emit(event(1))
    closed.emit(event(2), close=True)
    ended = registry.get_or_create("ended")
    ended.emit(event(4))
    ended.close()
    registry.get_or_create("empty")
    registry.get_or_create("deleted").emit(event(1))
    registry.delete("deleted")

    again = event_streams.restart(registry)
    stream = again.get("active")
    kit.expect(stream.last_cursor(), 9, "last_cursor() of the recovered active stream")
    expect_items(kit, stream.subscribe(), [3, 5, 9], "the recovered active stream", then="wait")
    tail = stream.subscribe(9)
    pending = tail.read()
    # The producer continues where the durable cursor says.
    stream.emit(event(10))
    check_read(kit, pending, event(10), "the producer continues at last_cursor() + 1 after the restart")
    expect_items(kit, stream.subscribe(), [3, 5, 9, 10], "no duplicate and no gap across the restart", then="wait")
    for name, seqs in (("closed", [1, 2]), ("ended", [4])):
        recovered = again.get(name)
        kit.expect(recovered.last_cursor(), seqs[-1], f"last_cursor() of the recovered {name} stream")
        expect_items(kit, recovered.subscribe(), seqs, f"the recovered {name} stream is still closed", then="end")
        event_streams.raises(("closed",), lambda: recovered.emit(event(99)), f"emit on the recovered {name} stream")
    empty = again.get("empty")
    kit.expect(empty.last_cursor(), None, "last_cursor() of the recovered empty stream")
    expect_waiting(kit, empty.subscribe(), "the recovered empty stream is still active")
    event_streams.raises(
        GONE_OR_NOT_FOUND, lambda: again.get("deleted"), "get() of a stream deleted before the restart"
    )
    event_streams.raises(("not_found",), lambda: again.get("never"), "get() of an id never created, after the restart")


@pytest.mark.rule("ST-10")
def test_st10_sigkill_of_a_writer_loses_no_emitted_event(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-10 A child emitting in a loop is SIGKILLed at varied moments; each recovery has every emitted event, in order, and continues at last + 1."""
    kit = lifecycle_kit
    spec = _spec(kit)
    ctx = event_streams.fresh_context()
    args = _args(kit, spec, ctx, "s")
    seed = zlib.crc32(f"{kit.provider.name}:{kit.nodeid}".encode())
    rng = random.Random(seed)
    emitted = emitting = 0
    with start_harness(kit, spec, crash) as harness:
        for k in range(1, KILLS + 1):
            run = harness.start("conformance._event_streams_crash:recover_and_emit", args)
            loaded = run.wait_report(lambda r: "loaded" in r)
            child_ok(kit, harness, run, loaded, f"the child of SIGKILL #{k}")
            assert loaded is not None
            moment = f"after SIGKILL #{k - 1} (seed {seed}), which hit the emit of cursor {emitting} (last returned: {emitted})"
            last = loaded["loaded"] or 0
            kit.note(f"child #{k}: recovered last_cursor() = {loaded['loaded']}")
            kit.check(
                emitted <= last <= emitting,
                f"{moment}: the recovered last_cursor() is {loaded['loaded']}, expected {emitted} (every event whose "
                f"emit returned){f' or {emitting}' if emitting != emitted else ''}",
            )
            kit.check(
                not loaded["stuck"] and loaded["history_ok"],
                f"{moment}: the recovered stream replays {loaded.get('history')}"
                f"{' and then waits' if loaded['stuck'] else ''}, expected cursors 1..{last} in order",
            )
            target = last + rng.randint(1, 4)
            run.wait_report(lambda r: r.get("emitted", 0) >= target)
            end = run.kill(after=rng.uniform(0, 0.004))
            child_ok(kit, harness, run, True, f"the child of SIGKILL #{k}")
            emitted = max([r["emitted"] for r in end.reports if "emitted" in r], default=last)
            emitting = max([r["emitting"] for r in end.reports if "emitting" in r], default=last)
            kit.note(f"SIGKILL #{k}: emit of {emitting} in flight, {emitted} returned")
    final = event_streams.new(ctx).get("s")
    last = final.last_cursor()
    kit.check(
        isinstance(last, int) and emitted <= last <= emitting,
        f"after the last SIGKILL the recovered last_cursor() is {last!r}, expected between {emitted} and {emitting}",
    )
    expect_items(
        kit, final.subscribe(), list(range(1, last + 1)), "every event of every child, once, in order", then="wait"
    )


@pytest.mark.rule("ST-10")
def test_st10_crash_inside_emit_with_close_keeps_it_atomic(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-10 A crash at any point of emit(x, close=True) recovers either without x, active, or with x and closed."""
    kit = lifecycle_kit
    registry = event_streams.new()
    stream = registry.get_or_create("s")
    stream.emit(event(1))
    driver = event_streams.driver
    # Each job the provider hands to a thread (a write, an fsync) waits for
    # the kit: between two of them the kit takes the directory as a crash
    # would leave it.
    driver.hold_jobs()
    try:
        pending = stream.start_emit(event(2), close=True)
        images: list[tuple[Context, list[str]]] = []
        while True:
            images.append((event_streams.copy(registry, f"image-{len(images)}"), driver.held_jobs()))
            if pending.done or not driver.admit_job():
                break
    finally:
        driver.release_jobs()
    driver.finish(pending)
    kit.check(pending.exception() is None, f"{stream}.emit(cursor 2, close=True) raised {pending.exception()!r}")
    for n, (image, held) in enumerate(images):
        moment = f"a crash image taken {'before ' + held[0] if held else 'after the emit'} (#{n} of {len(images)})"
        kit.note(moment)
        recovered = event_streams.new(image).get("s")
        last = recovered.last_cursor()
        if last == 1:
            expect_items(
                kit, recovered.subscribe(), [1], f"{moment}: without event 2 the stream is still active", then="wait"
            )
        elif last == 2:
            expect_items(kit, recovered.subscribe(), [1, 2], f"{moment}: with event 2 the stream is closed", then="end")
        else:
            kit.fail(f"{moment}: the recovered last_cursor() is {last!r}, expected 1 or 2")


# -- ST-11 ---------------------------------------------------------------------------


@pytest.mark.rule("ST-11")
def test_st11_torn_last_record_is_dropped(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-11 A log cut inside its last record recovers without that record, and later events follow whole ones."""
    kit = lifecycle_kit
    registry = event_streams.new()
    found = _appended(kit, registry.get_or_create("s"), registry.ctx, [1, 2, 3, 4])
    if found is None:
        pytest.skip(
            f"provider {kit.provider.name!r} does not append one file per emit: the kit cannot place a torn record"
        )
    log, sizes = found
    start, end = sizes[-2], sizes[-1]
    for cut in sorted({start + 1, (start + end) // 2, end - 1}):
        copy = event_streams.copy(registry, f"cut-{cut}")
        with open(copy.path / log.relative_to(registry.ctx.path), "r+b") as f:
            f.truncate(cut)
        where = f"{log.name} cut at byte {cut} (the last record is bytes {start}..{end})"
        kit.note(where)
        recovered = event_streams.new(copy)
        stream = recovered.get("s")
        kit.expect(stream.last_cursor(), 3, f"last_cursor() with {where}")
        expect_items(kit, stream.subscribe(), [1, 2, 3], f"the torn record 4 is dropped ({where})", then="wait")
        stream.emit(event(4, " again"))
        again = event_streams.restart(copy).get("s")
        kit.expect(
            _history(kit, again),
            [1, 2, 3, event(4, " again")],
            f"an event emitted after the recovery is whole after another restart ({where})",
        )


@pytest.mark.rule("ST-11")
def test_st11_write_cut_at_byte_offset(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-11 A child killed by SIGXFSZ inside the write of an event recovers with the events before it, whole."""
    kit = lifecycle_kit
    spec = _spec(kit)
    with start_harness(kit, spec, crash) as harness:
        for delta in (1, 9, 40):
            ctx = event_streams.fresh_context()
            run = harness.start(
                "conformance._event_streams_crash:cut_emit", _args(kit, spec, ctx, "s", events=3, delta=delta)
            )
            end = run.wait()
            child_ok(kit, harness, run, run.reports, f"the child cut at +{delta} bytes", died_of=(signal.SIGXFSZ,))
            completed = any("emitted" in r for r in run.reports)
            seqs = [1, 2, 3, 4] if completed else [1, 2, 3]
            where = f"a write cut {delta} bytes past the largest file ({end.describe() if end else 'still running'})"
            stream = event_streams.new(ctx).get("s")
            kit.expect(stream.last_cursor(), seqs[-1], f"last_cursor() after {where}")
            expect_items(kit, stream.subscribe(), seqs, f"after {where}", then="wait")


@pytest.mark.rule("ST-11")
def test_st11_corrupt_middle_record_is_a_clear_error(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-11 A damaged record before the last one is reported as an error on recovery, not silently dropped."""
    kit = lifecycle_kit
    registry = event_streams.new()
    found = _appended(kit, registry.get_or_create("s"), registry.ctx, [1, 2, 3, 4])
    if found is None:
        pytest.skip(
            f"provider {kit.provider.name!r} does not append one file per emit: the kit cannot place a damaged record"
        )
    log, sizes = found
    start, end = sizes[1], sizes[2]  # the record of event 2
    copy = event_streams.copy(registry, "damaged")
    at = (start + end) // 2
    with open(copy.path / log.relative_to(registry.ctx.path), "r+b") as f:
        f.seek(at)
        f.write(b"\x00\xff\x00\xff"[: max(1, min(4, end - at))])
    where = f"{log.name} damaged at byte {at} (record 2 of 4 is bytes {start}..{end})"
    kit.note(where)
    recovered = event_streams.new(copy)
    try:
        stream = recovered.get("s")
        last = stream.last_cursor()
        seqs = _history(kit, stream)
    except RuleViolation:
        raise
    except Exception as exc:
        kit.note(f"recovery raised {type(exc).__name__}: {exc}")
        return  # a clear error: the rule holds
    kit.check(
        last == 4 and seqs == [1, 2, 3, 4],
        f"with {where}, recovery raised nothing and the stream has last_cursor() {last!r} and replays {seqs}: "
        "events were lost silently (expected an error)",
    )


@pytest.mark.rule("ST-11")
def test_st11_second_writer_is_refused(lifecycle_kit: Kit, event_streams: Streams) -> None:
    """ST-11 While a child process writes a stream, this process cannot write it; once the child is gone it can."""
    kit = lifecycle_kit
    spec = _spec(kit)
    ctx = event_streams.fresh_context()
    with start_harness(kit, spec, crash) as harness:
        run = harness.start("conformance._event_streams_crash:hold_writer", _args(kit, spec, ctx, "w"))
        holding = run.wait_report(lambda r: "holding" in r)
        child_ok(kit, harness, run, holding, "the first writer")
        second = event_streams.new(ctx)
        refused: str | None = None
        try:
            stream = second.get_or_create("w")
            stream.emit(event(2))
        except RuleViolation:
            raise
        except Exception as exc:
            refused = f"{type(exc).__name__}: {exc}"
        kit.check(
            refused,
            f"a second writer emitted on stream 'w' while process {holding and holding['holding']} "
            "still writes it (expected a refusal)",
        )
        kit.note(f"the second writer was refused: {refused}")
        run.kill()
    after = event_streams.new(ctx).get_or_create("w")
    after.emit(event(2))
    expect_items(
        kit, after.subscribe(), [1, 2], "once the first writer is gone, the stream is writable again", then="wait"
    )
