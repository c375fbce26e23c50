"""The cost of durability in the reference event streams (§4), on loopback.

Run by hand (never collected by pytest)::

    python benchmarks/streams.py                 # about a minute
    python benchmarks/streams.py --quick         # a smoke run of a few seconds
    python benchmarks/streams.py --json streams.json
    python benchmarks/streams.py --suites --durations 25   # also time the conformance suites

Three registries, measured the same way:

* ``plain``  -- no durability: an in-memory list and an ``asyncio.Condition``
  (defined here), served over HTTP by a minimal Starlette SSE endpoint that
  writes ``id:`` lines and honours ``Last-Event-ID``;
* ``memory`` -- the reference's in-memory registry (``memory_factory``);
* ``file``   -- the reference's file-backed registry (``factory``): every
  ``emit`` returns once its record is fsynced (ST-10).

Both reference registries are built as the kit builds them: ``factory(ctx)``
with a kit :class:`~pytest_lifecycle._core.context.Context` carrying the
contract's extras (``cursor_fn``, ``ttl_seconds``).  Over HTTP they are
served by the reference SSE server (``reference_impl.sse.create_app`` in a
``ServerThread``), the plain endpoint by the same uvicorn set-up, each in a
child process; the client is httpx + httpx-sse (as in the wire suite).

Measures:

* **throughput** -- events/s at the subscriber while a producer emits back
  to back: in-process (``emit`` -> an async subscriber on the same loop)
  and over HTTP (``emit`` on the server's loop -> the SSE client).  The
  rate is taken at the consumer over a window of ``--seconds`` starting at
  the first event it receives; the producer then stops.  Every event is
  checked (cursors consecutive, ``data:`` carrying the cursor of ``id:``).
* **resume latency** -- a client reads ``--per-connection`` (N) events,
  disconnects, N more events are emitted, and it reconnects with
  ``Last-Event-ID``: the time from the reconnect request to the first
  resumed event, over ``--reconnects`` reconnects (median, p99).  The
  history grows by N events per reconnect.  The in-process figure is
  ``subscribe(after=c)`` to the first event.

Ratios are reference / plain: below 1 for throughput and above 1 for
latency is what durability costs.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import itertools
import json
import logging
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing it

from pytest_lifecycle._contracts.event_streams import TTL_SECONDS, seq_cursor  # noqa: E402
from pytest_lifecycle._core.context import Context, KitClock  # noqa: E402
from reference_impl import event_streams as reference  # noqa: E402

BACKENDS = ("plain", "memory", "file")
TRIALS = itertools.count(1)
#: A run that takes this much longer than planned is stuck: stop it.
SAFETY_NET = 120.0  # safety-net

Payload = dict[str, Any]


class BenchError(Exception):
    """The stream under measurement did not deliver what was emitted: no figure for it."""


def payload(seq: int, size: int) -> Payload:
    """An event with cursor *seq* whose JSON is about *size* bytes."""
    return {"seq": seq, "text": "x" * max(0, size - 30)}


# -- the plain registry: no durability -------------------------------------------------


class PlainStream:
    """An in-memory list and a condition: what an SSE endpoint without durability keeps."""

    def __init__(self) -> None:
        self.cursors: list[int] = []
        self.payloads: list[Payload] = []
        self.closed = False
        self._changed = asyncio.Condition()

    async def emit(self, item: Payload, *, close: bool = False) -> int:
        cursor = seq_cursor(item)
        async with self._changed:
            self.cursors.append(cursor)
            self.payloads.append(item)
            self.closed = self.closed or close
            self._changed.notify_all()
        return cursor

    async def subscribe(self, *, after: int | None = None) -> AsyncIterator[Payload]:
        index = 0 if after is None else bisect.bisect_right(self.cursors, after)
        while True:
            # One loop, no lock needed to read what is already there.
            while index < len(self.payloads):
                yield self.payloads[index]
                index += 1
            if self.closed:
                return
            async with self._changed:
                await self._changed.wait_for(lambda: index < len(self.payloads) or self.closed)


class PlainRegistry:
    def __init__(self) -> None:
        self.streams: dict[str, PlainStream] = {}

    async def get_or_create(self, stream_id: str) -> PlainStream:
        return self.streams.setdefault(stream_id, PlainStream())

    async def get(self, stream_id: str) -> PlainStream:
        return self.streams[stream_id]


class Stream(Protocol):
    async def emit(self, item: Payload, *, close: bool = False) -> int: ...
    def subscribe(self, *, after: int | None = None) -> AsyncIterator[Payload]: ...


class Registry(Protocol):
    async def get_or_create(self, stream_id: str) -> Any: ...
    async def get(self, stream_id: str) -> Any: ...


def build_registry(backend: str, directory: Path) -> Any:
    """A fresh registry of *backend*; the reference ones as the kit builds them."""
    if backend == "plain":
        return PlainRegistry()
    extras = {"cursor_fn": seq_cursor, "ttl_seconds": TTL_SECONDS}
    ctx = Context(directory, KitClock(), contract="event_streams", extras=extras)
    build = reference.memory_factory if backend == "memory" else reference.factory
    return build(ctx)  # type: ignore[arg-type]


# -- figures ---------------------------------------------------------------------------


@dataclass
class Throughput:
    events_per_s: float
    events: int
    seconds: float
    #: Events emitted before the producer saw the stop (≥ events: the backlog).
    emitted: int = 0


@dataclass
class Latency:
    median_ms: float
    p99_ms: float
    max_ms: float
    samples: int
    #: Events in the stream at the last reconnect.
    history: int


def latency_of(samples: list[float], history: int) -> Latency:
    ms = sorted(s * 1000 for s in samples)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
    return Latency(statistics.median(ms), p99, ms[-1], len(ms), history)


class Window:
    """The consumer's count: events/s from its first event until *seconds* later."""

    def __init__(self, seconds: float, what: str) -> None:
        self.seconds = seconds
        self.what = what
        self.expected = 1
        self.start = 0.0
        self.first = 0
        self.last_time = 0.0
        self.last = 0
        self.full = False

    def receive(self, cursor: int, data_cursor: int) -> bool:
        """Count one event; ``True`` once the window is full (stop the producer)."""
        if cursor != self.expected or data_cursor != cursor:
            raise BenchError(
                f"{self.what}: expected cursor {self.expected}, got id {cursor} carrying seq {data_cursor}"
            )
        self.expected += 1
        now = time.perf_counter()
        if not self.start:
            self.start, self.first = now, cursor
        elif not self.full:
            self.last_time, self.last = now, cursor
            self.full = now - self.start >= self.seconds
            return self.full
        return False

    def result(self, emitted: int = 0) -> Throughput:
        span = self.last_time - self.start
        if span <= 0:
            raise BenchError(f"{self.what}: fewer than two events in the window")
        count = self.last - self.first
        return Throughput(count / span, count, span, emitted)


# -- in-process ------------------------------------------------------------------------


async def produce(stream: Stream, stop: asyncio.Event, size: int) -> int:
    """Emit back to back until *stop*; then one last event that closes the stream."""
    seq = 0
    give_up = time.perf_counter() + SAFETY_NET  # safety-net: a consumer that never stops us
    while not stop.is_set() and time.perf_counter() < give_up:
        seq += 1
        await stream.emit(payload(seq, size))
        # A yield, not a wait: the memory registries' emit never suspends,
        # and a producer in a server shares the loop with its responses.
        await asyncio.sleep(0)
    await stream.emit(payload(seq + 1, size), close=True)
    return seq


async def inprocess_throughput(registry: Registry, seconds: float, size: int) -> Throughput:
    stream = await registry.get_or_create("throughput")
    subscription = stream.subscribe(after=None)
    stop = asyncio.Event()
    window = Window(seconds, "in-process subscriber")
    producer = asyncio.ensure_future(produce(stream, stop, size))
    async for item in subscription:
        cursor = seq_cursor(item)
        if window.receive(cursor, cursor):
            stop.set()
    return window.result(await producer)


async def fill(stream: Stream, first: int, count: int, size: int) -> None:
    for seq in range(first, first + count):
        await stream.emit(payload(seq, size))


async def inprocess_resume(registry: Registry, reconnects: int, per_connection: int, size: int) -> Latency:
    stream = await registry.get_or_create("resume")
    await fill(stream, 1, per_connection, size)
    samples = []
    for i in range(1, reconnects + 1):
        # The subscriber had read up to *after*; then N more events came.
        after = i * per_connection
        await fill(stream, after + 1, per_connection, size)
        start = time.perf_counter()
        subscription = stream.subscribe(after=after)
        first = await anext(subscription)
        samples.append(time.perf_counter() - start)
        if seq_cursor(first) != after + 1:
            raise BenchError(f"in-process resume after {after}: first event has cursor {seq_cursor(first)}")
        await subscription.aclose()
    return latency_of(samples, (reconnects + 1) * per_connection)


def run_inprocess(backend: str, work: Callable[[Registry], Any], scratch: Path) -> Any:
    with tempfile.TemporaryDirectory(dir=scratch) as directory:

        async def main() -> Any:
            return await asyncio.wait_for(work(build_registry(backend, Path(directory))), SAFETY_NET)

        return asyncio.run(main())


# -- over HTTP -------------------------------------------------------------------------


def plain_app(registry: PlainRegistry) -> Any:
    """A minimal SSE endpoint on Starlette: ``id:`` lines, ``Last-Event-ID`` honoured, nothing on disk."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def create(request: Request) -> Response:
        await registry.get_or_create(request.path_params["id"])
        return Response(status_code=204)

    async def events(request: Request) -> Response:
        stream = registry.streams.get(request.path_params["id"])
        if stream is None:
            return PlainTextResponse("no such stream", status_code=404)
        header = request.headers.get("last-event-id", "").strip()
        try:
            after = int(header) if header else None
        except ValueError:
            return PlainTextResponse(f"Last-Event-ID {header!r} is not a cursor", status_code=400)

        async def messages() -> AsyncIterator[str]:
            async for item in stream.subscribe(after=after):
                yield f"id: {seq_cursor(item)}\ndata: {json.dumps(item, separators=(',', ':'))}\n\n"

        return StreamingResponse(messages(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    return Starlette(
        routes=[
            Route("/streams/{id}", create, methods=["PUT"]),
            Route("/streams/{id}/events", events, methods=["GET"]),
        ]
    )


class Producers:
    """The benchmark's own routes: emit on the server's loop, as an application would."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.running: dict[str, tuple[asyncio.Event, asyncio.Future[int]]] = {}

    async def start(self, request: Any) -> Any:
        from starlette.responses import Response

        stream_id = request.path_params["id"]
        stream = await self.registry.get(stream_id)
        stop = asyncio.Event()
        self.running[stream_id] = stop, asyncio.ensure_future(produce(stream, stop, int(request.query_params["size"])))
        return Response(status_code=202)

    async def stop(self, request: Any) -> Any:
        from starlette.responses import JSONResponse

        stop, producer = self.running.pop(request.path_params["id"])
        stop.set()
        return JSONResponse({"emitted": await producer})

    async def fill(self, request: Any) -> Any:
        from starlette.responses import Response

        stream = await self.registry.get(request.path_params["id"])
        query = request.query_params
        await fill(stream, int(query["first"]), int(query["count"]), int(query["size"]))
        return Response(status_code=204)


def bench_app(backend: str, directory: Path) -> Any:
    """*backend* behind its SSE endpoint (the reference SSE server, or the plain one), and the bench routes."""
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route

    from reference_impl.sse import create_app

    registry = build_registry(backend, directory)
    if backend == "plain":
        inner = plain_app(registry)
    else:
        inner = create_app(registry, cursor_fn=seq_cursor, errors=reference.ERRORS)
    producers = Producers(registry)
    return Starlette(
        routes=[
            Route("/bench/{id}/start", producers.start, methods=["POST"]),
            Route("/bench/{id}/stop", producers.stop, methods=["POST"]),
            Route("/bench/{id}/fill", producers.fill, methods=["POST"]),
            Mount("", app=inner),
        ]
    )


def serve_until_eof(backend: str, directory: Path) -> int:
    """The child's side of :func:`serve`: print the URL, serve until stdin closes."""
    from reference_impl.sse import ServerThread

    quiet_disconnects()
    server = ServerThread(bench_app(backend, directory), name=f"bench-{backend}").start()
    print(f"serving {server.url}", flush=True)
    sys.stdin.read()
    stopped = server.stop()
    if server.error is not None:
        raise server.error
    return 0 if stopped else 1


@contextlib.contextmanager
def serve(backend: str, scratch: Path) -> Iterator[str]:
    """*backend* served on 127.0.0.1 by a ``ServerThread`` in a child process: its URL.

    A process of its own, so the client's Python does not share a GIL with
    the server's (in one process each waits up to the 5 ms switch interval
    for the other, which swamps a loopback round trip).
    """
    with tempfile.TemporaryDirectory(dir=scratch) as directory:
        command = [sys.executable, str(Path(__file__).resolve()), "--serve", backend, "--dir", directory]
        child = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert child.stdin is not None and child.stdout is not None
        try:
            line = child.stdout.readline()  # the child prints it once its socket listens
            if not line.startswith("serving "):
                raise BenchError(f"the {backend} server did not start (it printed {line!r})")
            yield line.split()[1]
        finally:
            child.stdin.close()  # EOF: the child stops its server
            try:
                child.wait(timeout=30)  # safety-net
            except subprocess.TimeoutExpired:
                print(f"warning: the {backend} server did not stop; killing it", file=sys.stderr)
                child.kill()
                child.wait()


def quiet_disconnects() -> None:
    # The benchmark's clients hang up mid-stream on purpose; asyncio logs a
    # warning for every write to such a socket.
    logging.getLogger("asyncio").setLevel(logging.ERROR)


def client_for(url: str) -> Any:
    import httpx

    # Loopback, whatever the environment's proxy settings.
    return httpx.Client(base_url=url, timeout=httpx.Timeout(SAFETY_NET), trust_env=False)


def check(response: Any, what: str) -> Any:
    if not response.is_success:
        raise BenchError(f"{what}: {response.status_code} {response.text[:200]!r}")
    return response


def http_throughput(url: str, seconds: float, size: int) -> Throughput:
    from httpx_sse import connect_sse

    stream_id = f"throughput-{next(TRIALS)}"  # a fresh stream per measure
    with client_for(url) as client:
        check(client.put(f"/streams/{stream_id}"), f"PUT /streams/{stream_id}")
        window = Window(seconds, "SSE client")
        with connect_sse(client, "GET", f"/streams/{stream_id}/events") as source:
            check(source.response, f"GET /streams/{stream_id}/events")
            check(client.post(f"/bench/{stream_id}/start", params={"size": size}), "start the producer")
            for sse in source.iter_sse():
                if window.receive(int(sse.id), seq_cursor(json.loads(sse.data))):
                    break
            # The backlog is not drained: the client disconnects.
            emitted = check(client.post(f"/bench/{stream_id}/stop"), "stop the producer").json()["emitted"]
        return window.result(emitted)


def http_resume(url: str, reconnects: int, per_connection: int, size: int) -> Latency:
    from httpx_sse import connect_sse

    with client_for(url) as client:
        check(client.put("/streams/resume"), "PUT /streams/resume")
        last_id = ""
        samples: list[float] = []
        for connection in range(reconnects + 1):  # the first one only reads
            # While the client is away, N more events come.
            more = {"first": connection * per_connection + 1, "count": per_connection, "size": size}
            check(client.post("/bench/resume/fill", params=more), "emit while the client is away")
            headers = {"Last-Event-ID": last_id} if last_id else {}
            start = time.perf_counter()
            with connect_sse(client, "GET", "/streams/resume/events", headers=headers) as source:
                check(source.response, f"GET /streams/resume/events (Last-Event-ID: {last_id!r})")
                events = source.iter_sse()
                for n in range(per_connection):
                    sse = next(events)
                    if n == 0 and connection:
                        samples.append(time.perf_counter() - start)
                    expected = (int(last_id) if last_id else 0) + 1
                    if int(sse.id) != expected or seq_cursor(json.loads(sse.data)) != expected:
                        raise BenchError(f"resume from {last_id!r}: expected cursor {expected}, got id {sse.id}")
                    last_id = sse.id
            # Leaving the block closes the connection mid-stream: a disconnect.
        return latency_of(samples, (reconnects + 1) * per_connection)


# -- the conformance suites ------------------------------------------------------------


@dataclass
class SuiteRun:
    name: str
    command: str
    target_s: float
    wall_s: float
    #: user + sys of pytest and the workers it waited for: what load inflates least.
    cpu_s: float
    exit_code: int
    summary: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    durations: list[str] = field(default_factory=list)


SUITES = [
    (
        "ST suite (event_streams, not SSE), serial",
        ["--pyargs", "conformance.event_streams", "-k", "not sse", "-n", "0"],
        15.0,
    ),
    ("SSE rules alone, serial", ["--pyargs", "conformance.event_streams", "--lifecycle-rule", "SSE", "-n", "0"], 15.0),
    ("whole kit, serial", ["--pyargs", "conformance", "-n", "0"], 40.0),
    ("whole kit, -n 2", ["--pyargs", "conformance", "-n", "2"], 25.0),
]


def run_suite(name: str, args: list[str], target: float, durations: int) -> SuiteRun:
    command = [sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"]
    if durations and "conformance" in args and "--lifecycle-rule" not in args and "-k" not in args:
        command.append(f"--durations={durations}")
    load_before = os.getloadavg()
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    now = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)
    lines = done.stdout.splitlines()
    # pytest's last line: "==== 12 passed, 1 skipped in 3.21s ===="
    summary = next((line.strip("= ") for line in reversed(lines) if line.startswith("=") and " in " in line), "")
    section = _durations_section(lines)
    return SuiteRun(
        name,
        shlex.join(["pytest", *command[3:]]),
        target,
        wall,
        cpu,
        done.returncode,
        summary,
        load_before,
        os.getloadavg(),
        section,
    )


def _durations_section(lines: list[str]) -> list[str]:
    starts = [i for i, line in enumerate(lines) if "slowest" in line and "durations" in line]
    if not starts:
        return []
    section = []
    for line in lines[starts[0] + 1 :]:
        if not line.strip() or line.startswith("="):
            break
        section.append(line)
    return section


# -- the run ---------------------------------------------------------------------------


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def filesystem_of(path: Path) -> str:
    """The mount point and type *path* is on (fsync cost depends on it)."""
    best = ("?", "?")
    with contextlib.suppress(OSError), open("/proc/mounts") as mounts:
        for line in mounts:
            parts = line.split()
            if len(parts) > 2 and str(path.resolve()).startswith(parts[1]) and len(parts[1]) >= len(best[0]):
                best = (parts[1], parts[2])
    return f"{best[1]} ({best[0]})"


def repeated(times: int, measure: Callable[[], Throughput]) -> Throughput:
    """The median (by events/s) of *times* measures."""
    runs = sorted((measure() for _ in range(times)), key=lambda t: t.events_per_s)
    return runs[len(runs) // 2]


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--seconds", type=float, help="throughput window per measure (default 2, quick 0.3)")
    parser.add_argument("--repeat", type=int, help="throughput measures per figure, median kept (default 3, quick 1)")
    parser.add_argument("--reconnects", type=int, help="reconnects per resume figure (default 200, quick 20)")
    parser.add_argument("--per-connection", type=int, help="events read per connection (default 10, quick 5)")
    parser.add_argument("--payload-bytes", type=int, default=100, help="size of an event's JSON (default 100)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="where the file registry writes")
    parser.add_argument("--backend", action="append", choices=BACKENDS, help="measure only these (repeatable)")
    parser.add_argument("--suites", action="store_true", help="also time the conformance suites (pytest, ~2 min)")
    parser.add_argument(
        "--durations", type=int, default=0, metavar="N", help="with --suites: --durations=N on the whole-kit runs"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the figures as JSON")
    parser.add_argument("--serve", choices=BACKENDS, help=argparse.SUPPRESS)  # the server child of serve()
    args = parser.parse_args(argv)
    if args.serve:
        return serve_until_eof(args.serve, args.dir)
    seconds = args.seconds or (0.3 if args.quick else 2.0)
    repeat = args.repeat or (1 if args.quick else 3)
    reconnects = args.reconnects or (20 if args.quick else 200)
    per_connection = args.per_connection or (5 if args.quick else 10)
    size = args.payload_bytes
    backends = args.backend or list(BACKENDS)
    scratch = args.dir

    meta = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_at_start": loadavg(),
        "scratch": f"{scratch} on {filesystem_of(scratch)}",
        "payload_bytes": size,
        "window_s": seconds,
        "repeat": repeat,
        "reconnects": reconnects,
        "per_connection": per_connection,
    }
    print(f"streams benchmark: load {meta['load_at_start']}, {meta['cpus']} CPUs, file registry in {meta['scratch']}")
    started = time.perf_counter()
    throughput: dict[str, dict[str, Throughput]] = {"in-process": {}, "http": {}}
    resume: dict[str, dict[str, Latency]] = {"in-process": {}, "http": {}}
    for backend in backends:
        throughput["in-process"][backend] = repeated(
            repeat, lambda: run_inprocess(backend, lambda r: inprocess_throughput(r, seconds, size), scratch)
        )
        resume["in-process"][backend] = run_inprocess(
            backend, lambda r: inprocess_resume(r, reconnects, per_connection, size), scratch
        )
        with serve(backend, scratch) as url:
            throughput["http"][backend] = repeated(repeat, lambda: http_throughput(url, seconds, size))
            resume["http"][backend] = http_resume(url, reconnects, per_connection, size)
        print(f"  {backend}: done ({time.perf_counter() - started:.0f} s, load {loadavg()})", flush=True)
    meta["load_at_end"] = loadavg()
    meta["wall_s"] = round(time.perf_counter() - started, 1)

    ratios: dict[str, dict[str, float | None]] = {}
    if "plain" in backends:
        for backend in (b for b in backends if b != "plain"):
            ratios[backend] = {
                f"throughput_{mode}": ratio(
                    throughput[mode][backend].events_per_s, throughput[mode]["plain"].events_per_s
                )
                for mode in throughput
            } | {
                f"resume_{mode}_{q}": ratio(getattr(resume[mode][backend], q), getattr(resume[mode]["plain"], q))
                for mode in resume
                for q in ("median_ms", "p99_ms")
            }
    print_table(backends, throughput, resume, ratios, meta)

    suites: list[SuiteRun] = []
    if args.suites:
        print("\nconformance suites against the reference (wall time, load average 1/5/15 min before the run):")
        for name, suite_args, target in SUITES:
            run = run_suite(name, suite_args, target, args.durations)
            suites.append(run)
            verdict = "ok" if run.wall_s < target else "MISSED"
            print(
                f"  {name:<42} {run.wall_s:6.1f} s  (target < {target:g} s: {verdict}; CPU {run.cpu_s:.1f} s)  "
                f"exit {run.exit_code}, load {' '.join(f'{x:.2f}' for x in run.load_before)}  [{run.summary}]",
                flush=True,
            )
        for run in suites:
            if run.durations:
                print(f"\n  slowest of {run.name}:")
                for line in run.durations:
                    print(f"    {line}")

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "throughput_events_per_s": {m: {b: asdict(t) for b, t in v.items()} for m, v in throughput.items()},
                    "resume_latency": {m: {b: asdict(t) for b, t in v.items()} for m, v in resume.items()},
                    "ratio_reference_over_plain": ratios,
                    "suites": [asdict(s) for s in suites],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwrote {args.json}")
    return 0


def print_table(
    backends: list[str],
    throughput: dict[str, dict[str, Throughput]],
    resume: dict[str, dict[str, Latency]],
    ratios: dict[str, dict[str, float | None]],
    meta: dict[str, Any],
) -> None:
    def row(label: str, cells: list[str]) -> None:
        print(f"  {label:<34}" + "".join(f"{c:>12}" for c in cells))

    def fmt(x: float | None, digits: int = 2) -> str:
        return "-" if x is None else f"{x:.{digits}f}" if x < 100 else f"{x:,.0f}"

    print(
        f"\nthroughput, events/s at the subscriber (payload {meta['payload_bytes']} B, "
        f"{meta['window_s']:g} s window, median of {meta['repeat']})"
    )
    row("", backends)
    labels = {"in-process": "in-process (emit -> async iterator)", "http": "HTTP (emit -> SSE client)"}
    for mode, label in labels.items():
        row(label, [fmt(throughput[mode][b].events_per_s) for b in backends])
    print(
        f"\nresume latency after a disconnect, ms ({meta['reconnects']} reconnects, "
        f"{meta['per_connection']} events each, history up to {resume['http'][backends[0]].history} events)"
    )
    row("", backends)
    for mode, label in (("http", "HTTP reconnect -> first event"), ("in-process", "subscribe(after) -> first event")):
        for q in ("median_ms", "p99_ms"):
            row(f"{label}, {q[:-3]}", [fmt(getattr(resume[mode][b], q), 3) for b in backends])
    if ratios:
        print("\nreference / plain (throughput below 1, latency above 1: the cost)")
        row("", list(ratios))
        for key in next(iter(ratios.values())):
            row(key.replace("_ms", ""), [fmt(ratios[b][key], 3) for b in ratios])
    print(f"\nload average {meta['load_at_start']} at start, {meta['load_at_end']} at end; {meta['wall_s']} s")


if __name__ == "__main__":
    sys.exit(main())
