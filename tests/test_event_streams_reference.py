"""The reference stream registries (:mod:`reference_impl.event_streams`): bad input, and the in-memory one certified.

The kit checks bad input only as far as a rule says (ST-12); the reference
goes further and refuses each kind of bad input with a clear error.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import rules_for
from reference_impl.event_streams import (
    FileStreamRegistry,
    InvalidCursor,
    InvalidPayload,
    InvalidStreamId,
    MemoryStreamRegistry,
    StreamClosed,
    StreamCorrupt,
    StreamGone,
    StreamLocked,
    StreamNotFound,
    encode_record,
    file_stem,
)


def seq(payload: Any) -> int:
    return payload["seq"]  # type: ignore[no-any-return]


@pytest.fixture(params=["memory", "file"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return MemoryStreamRegistry(cursor_fn=seq, ttl_seconds=10)
    return FileStreamRegistry(tmp_path, cursor_fn=seq, ttl_seconds=10)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


@pytest.mark.parametrize("bad", ["a/b", "../x", "..", ".", "nul\x00", "", "a\\b", None, 3, "x" * 600])
def test_bad_ids_are_refused_clearly(registry: Any, bad: Any) -> None:
    with pytest.raises(InvalidStreamId, match="stream id"):
        run(registry.get_or_create(bad))


def test_a_payload_without_a_cursor_is_refused(registry: Any) -> None:
    async def scenario() -> None:
        stream = await registry.get_or_create("s")
        with pytest.raises(InvalidCursor, match="cursor_fn cannot read a cursor"):
            await stream.emit({"no": "seq"})
        with pytest.raises(InvalidCursor, match="not an int"):
            await stream.emit({"seq": "7"})
        with pytest.raises(InvalidCursor, match="not an int"):
            await stream.emit({"seq": True})
        assert await stream.last_cursor() is None

    run(scenario())


def test_a_cursor_not_above_the_last_is_refused(registry: Any) -> None:
    async def scenario() -> None:
        stream = await registry.get_or_create("s")
        await stream.emit({"seq": 5})
        for cursor in (5, 4):
            with pytest.raises(InvalidCursor, match=f"cursor {cursor} is not above the last cursor 5"):
                await stream.emit({"seq": cursor})
        assert await stream.last_cursor() == 5

    run(scenario())


@pytest.mark.parametrize("after", ["3", 1.5, True, [1]])
def test_a_malformed_after_is_refused_at_the_call(registry: Any, after: Any) -> None:
    async def scenario() -> None:
        stream = await registry.get_or_create("s")
        with pytest.raises(InvalidCursor, match="after= is an int cursor or None"):
            stream.subscribe(after=after)

    run(scenario())


def test_a_payload_the_log_cannot_store_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        stream = await FileStreamRegistry(tmp_path, cursor_fn=seq).get_or_create("s")
        with pytest.raises(InvalidPayload, match="not JSON"):
            await stream.emit({"seq": 1, "x": object()})
        assert await stream.last_cursor() is None

    run(scenario())


def test_errors_name_the_state(registry: Any) -> None:
    async def scenario() -> None:
        with pytest.raises(StreamNotFound):
            await registry.get("s")
        stream = await registry.get_or_create("s")
        await stream.close()
        with pytest.raises(StreamClosed):
            await stream.emit({"seq": 1})
        await registry.delete("s")
        with pytest.raises(StreamGone):
            await registry.get("s")

    run(scenario())


def test_a_damaged_middle_record_names_the_file_and_offset(tmp_path: Path) -> None:
    log = tmp_path / (file_stem("s") + ".log")
    good = encode_record({"c": 1, "t": 0.0, "p": {"seq": 1}})
    log.write_bytes(good + b"garbage\n" + good)
    with pytest.raises(StreamCorrupt, match=f"{log.name}: damaged record at byte {len(good)}"):
        run(FileStreamRegistry(tmp_path, cursor_fn=seq).get("s"))


def test_ids_map_to_distinct_file_names() -> None:
    ids = ["a", "A", "a b", "a%20b", "a.b", "é", "x" * 300, "x" * 301]
    stems = [file_stem(i) for i in ids]
    assert len(set(stems)) == len(stems)
    assert all("/" not in s and "." not in s and len(s) < 240 for s in stems)


def test_a_second_instance_in_another_process_is_refused(tmp_path: Path) -> None:
    """The flock is per open file: a child process that holds the log keeps this one out."""
    import multiprocessing

    ready, done = multiprocessing.Event(), multiprocessing.Event()
    child = multiprocessing.get_context("fork").Process(target=_hold, args=(str(tmp_path), ready, done))
    child.start()
    try:
        assert ready.wait(10)
        with pytest.raises(StreamLocked, match="another process"):
            run(FileStreamRegistry(tmp_path, cursor_fn=seq).get("s"))
    finally:
        done.set()
        child.join(10)
    stream = run(FileStreamRegistry(tmp_path, cursor_fn=seq).get("s"))
    assert run(stream.last_cursor()) == 1


def _hold(path: str, ready: Any, done: Any) -> None:
    async def scenario() -> None:
        stream = await FileStreamRegistry(path, cursor_fn=seq).get_or_create("s")
        await stream.emit({"seq": 1})
        ready.set()
        await asyncio.to_thread(done.wait, 10)

    asyncio.run(scenario())


def test_the_in_memory_registry_passes_the_suite(pytester: pytest.Pytester) -> None:
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.event_streams",
        "--lifecycle-provider",
        "reference_impl.provider:memory_provider",
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        "not sse",
    )
    verdicts = json.loads(report.read_text())["providers"]["reference-memory"]
    expected = {
        r.id: "not claimed" if r.capability == "durable" else "passed"
        for r in rules_for("event_streams")
        if r.id.startswith("ST-")
    }
    got = {r: v["verdict"] for r, v in verdicts.items() if r.startswith("ST-")}
    assert got == expected, result.stdout.str()[-3000:]
