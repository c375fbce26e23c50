"""The child side of ST-10/ST-11's crash tests (§4); private.

These functions run in workers forked by :class:`~pytest_lifecycle.support.CrashHarness`: each
builds the provider's registry on the test's directory, as a restarted
server would, on its own event loop (``asyncio.run``), and reports what it
found and did.  Every wait on the provider is bounded by ``args["timeout"]``
(a safety net: the report then says the child was stuck).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_lifecycle import Context, KitClock
from pytest_lifecycle.support import TTL_SECONDS, event, limit_file_size, load_provider, seq_cursor

Report = Callable[[dict[str, Any]], None]


def _registry(args: dict[str, Any]) -> Any:
    provider = load_provider(args["provider"])
    ctx = Context(
        Path(args["path"]),
        KitClock(args["clock"]),
        contract="event_streams",
        extras={"cursor_fn": seq_cursor, "ttl_seconds": TTL_SECONDS},
    )
    return provider.factories["event_streams"](ctx)


async def _history(stream: Any, last: int | None, timeout: float) -> tuple[list[int], bool]:
    """The cursors ``subscribe()`` replays up to *last*; ``stuck`` if a read did not come back."""
    seqs: list[int] = []
    if last is None:
        return seqs, False
    iterator = stream.subscribe()
    while not seqs or seqs[-1] < last:
        try:
            payload = await asyncio.wait_for(iterator.__anext__(), timeout)  # safety-net
        except (TimeoutError, StopAsyncIteration):
            return seqs, True
        seqs.append(payload["seq"] if isinstance(payload, dict) and payload == event(payload.get("seq", -1)) else -1)
    return seqs, False


def _summary(seqs: list[int], last: int | None) -> dict[str, Any]:
    expected = list(range(1, (last or 0) + 1))
    if seqs == expected:
        return {"history_ok": True}
    shown: Sequence[int | str] = seqs if len(seqs) <= 40 else [*seqs[:10], "…", *seqs[-20:]]
    return {"history_ok": False, "history": shown}


def recover_and_emit(args: dict[str, Any], report: Report) -> None:
    """Recover the stream, report its last cursor and history, then emit last+1, last+2, … until killed."""

    async def main() -> None:
        registry = _registry(args)
        stream = await registry.get_or_create(args["stream"])
        last = await stream.last_cursor()
        seqs, stuck = await _history(stream, last, args["timeout"])
        report({"loaded": last, "stuck": stuck, **_summary(seqs, last)})
        n = last or 0
        while True:
            n += 1
            report({"emitting": n})
            await stream.emit(event(n))
            report({"emitted": n})

    asyncio.run(main())


def cut_emit(args: dict[str, Any], report: Report) -> None:
    """Emit ``args["events"]`` events, then one more with every write cut at ``largest file + args["delta"]``.

    The crossing write kills the process (``SIGXFSZ``) at that byte offset.
    """

    async def main() -> None:
        registry = _registry(args)
        stream = await registry.get_or_create(args["stream"])
        for n in range(1, args["events"] + 1):
            await stream.emit(event(n))
        sizes = [p.stat().st_size for p in Path(args["path"]).rglob("*") if p.is_file()]
        largest = max(sizes, default=0)
        report({"emitting": args["events"] + 1, "size": largest})
        limit_file_size(largest + args["delta"], kill=True)
        await stream.emit(event(args["events"] + 1))
        limit_file_size(None)
        report({"emitted": args["events"] + 1})

    asyncio.run(main())


def hold_writer(args: dict[str, Any], report: Report) -> None:
    """Emit one event on the stream and keep the registry open until killed."""

    async def main() -> None:
        registry = _registry(args)
        stream = await registry.get_or_create(args["stream"])
        await stream.emit(event(1))
        report({"holding": os.getpid()})
        await asyncio.Event().wait()  # until the kit's SIGKILL

    asyncio.run(main())
