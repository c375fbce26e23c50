"""The SSE wire suite as users run it: by URL, without the extra, on a server it did not come with.

- ``--lifecycle-sse-url NAME=URL`` certifies a server in another process,
  reported as ``NAME``;
- without the ``sse`` extra the rules read *skipped*, with the install hint;
- a server that stops sending fails with the stream and the last id;
- a correct server written from the contract text alone -- raw ASGI, its
  own streams, keep-alives as named ``ping`` events that repeat the current
  id, pretty-printed multi-line ``data:``, a ``retry:`` field, 404 for a
  deleted stream, no query alias -- passes every SSE rule (precision).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_lifecycle import Provider

ROOT = Path(__file__).resolve().parent.parent
SSE_RULES = ["SSE-01", "SSE-02", "SSE-03", "SSE-04"]


def certify(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(
        "--pyargs",
        "conformance.event_streams",
        "--lifecycle-rule",
        "SSE",
        "--lifecycle-report",
        str(report),
        "-p",
        "no:cacheprovider",
        "-q",
        "-n",
        "0",
        *args,
    )
    assert report.exists(), result.stdout.str()
    return result, json.loads(report.read_text())


def verdicts(doc: dict[str, Any], name: str) -> dict[str, str]:
    return {rule: v["verdict"] for rule, v in doc["providers"][name].items()}


# -- by URL ------------------------------------------------------------------------


@pytest.fixture
def server_process() -> Iterator[str]:
    """``python -m reference_impl.sse --port 0`` in a child process: its URL."""
    pytest.importorskip("uvicorn", reason="the sse extra is not installed: pip install 'pytest-lifecycle[sse]'")
    child = subprocess.Popen(
        [sys.executable, "-m", "reference_impl.sse", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # printed once the socket listens
        assert line.startswith("serving http://"), line
        yield line.split()[1]
    finally:
        child.terminate()
        child.wait(timeout=10)  # safety-net


def test_a_server_in_another_process_is_certified_by_url_under_its_name(
    pytester: pytest.Pytester, server_process: str
) -> None:
    result, doc = certify(pytester, "--lifecycle-sse-url", f"other-process={server_process}")
    assert list(doc["providers"]) == ["other-process"], result.stdout.str()
    assert verdicts(doc, "other-process") == dict.fromkeys(SSE_RULES, "passed"), result.stdout.str()
    assert result.ret == pytest.ExitCode.OK


@pytest.mark.parametrize("value", ["no-equals", "=http://x", "name=ftp://x", "name="])
def test_malformed_sse_url_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    result = pytester.runpytest_inprocess("--pyargs", "conformance.event_streams", "--lifecycle-sse-url", value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "NAME=URL" in result.stderr.str()


def test_unreachable_url_fails_every_rule_naming_the_server(pytester: pytest.Pytester) -> None:
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    _result, doc = certify(pytester, "--lifecycle-sse-url", f"gone-server={url}")
    assert verdicts(doc, "gone-server") == dict.fromkeys(SSE_RULES, "failed")
    for rule in SSE_RULES:
        message = doc["providers"]["gone-server"][rule]["message"]
        assert message.startswith(f"[{rule}] server 'gone-server' at {url}"), message


# -- without the extra -------------------------------------------------------------


def test_without_the_extra_the_rules_read_skipped_with_the_install_hint(pytester: pytest.Pytester) -> None:
    # The run's own conftest hides httpx-sse (the snapshot of sys.modules is restored after it).
    pytester.makeconftest("import sys\nsys.modules['httpx_sse'] = None\n")
    result, doc = certify(pytester)
    assert verdicts(doc, "reference") == dict.fromkeys(SSE_RULES, "skipped"), result.stdout.str()
    for rule in SSE_RULES:
        assert "pip install 'pytest-lifecycle[sse]'" in doc["providers"]["reference"][rule]["message"]
    # Every selected rule skipped: the gate ran nothing, which is not a pass.
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


# -- a server that stops sending ---------------------------------------------------


def test_a_server_that_stops_sending_fails_naming_the_stream_and_the_last_id(pytester: pytest.Pytester) -> None:
    _result, doc = certify(
        pytester,
        "--lifecycle-provider",
        "tests.mutants.event_streams.sse03_closed_response_never_ends:provider",
        "--lifecycle-timeout",
        "1",
        "-k",
        "closed_stream_ends",
    )
    (name,) = doc["providers"]
    message = doc["providers"][name]["SSE-03"]["message"]
    assert message.startswith(f"[SSE-03] server {name!r} sent no event for 1s on stream 'kit-"), message
    assert "the end of the response" in message and "last id received: '7'" in message, message


# -- precision: a correct server the kit did not come with ----------------------------


class _Stream:
    def __init__(self) -> None:
        self.events: list[tuple[int, Any]] = []
        self.closed = False
        self.gone = False
        self.changed = asyncio.Event()
        self.pings: set[asyncio.Queue[None]] = set()

    def touch(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class RawStreams:
    """Streams kept by the raw server itself (no tombstones: a deleted id is unknown)."""

    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}

    async def get_or_create(self, stream_id: str) -> _Stream:
        return self.streams.setdefault(stream_id, _Stream())

    async def get(self, stream_id: str) -> _Stream:
        return self.streams[stream_id]

    async def delete(self, stream_id: str) -> None:
        stream = self.streams.pop(stream_id, None)
        if stream is not None:
            stream.gone = True
            stream.touch()


def _message(*fields: tuple[str, str]) -> bytes:
    return ("".join(f"{name}: {value}\n" for name, value in fields) + "\n").encode()


def raw_app(streams: RawStreams) -> Any:
    """A raw ASGI SSE server, written from the contract text without Starlette."""

    async def respond(send: Any, status: int, body: bytes = b"") -> None:
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    async def read_body(receive: Any) -> bytes:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                return body

    async def disconnected(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            continue

    async def stream_events(stream: _Stream, after: int | None, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": _message(("retry", "2000")), "more_body": True})
        pings: asyncio.Queue[None] = asyncio.Queue()
        stream.pings.add(pings)
        gone = asyncio.ensure_future(disconnected(receive))
        last = after
        try:
            while True:
                for cursor, payload in [e for e in stream.events if last is None or e[0] > last]:
                    data = [("data", line) for line in json.dumps(payload, indent=1).splitlines()]
                    await send(
                        {"type": "http.response.body", "body": _message(("id", str(cursor)), *data), "more_body": True}
                    )
                    last = cursor
                if stream.closed or stream.gone:
                    break
                changed = asyncio.ensure_future(stream.changed.wait())
                ping = asyncio.ensure_future(pings.get())
                await asyncio.wait({changed, ping, gone}, return_when=asyncio.FIRST_COMPLETED)
                changed.cancel()
                ping.cancel()
                if gone.done():
                    return
                if ping.done() and not ping.cancelled():
                    # A named event, repeating the current id: it moves no cursor.
                    fields = [("event", "ping"), ("data", "{}")] + ([("id", str(last))] if last is not None else [])
                    await send({"type": "http.response.body", "body": _message(*fields), "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            stream.pings.discard(pings)
            gone.cancel()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method, parts = scope["method"], scope["path"].strip("/").split("/")
        if len(parts) < 2 or parts[0] != "streams":
            return await respond(send, 404)
        stream_id, action = parts[1], "/".join(parts[2:])
        if method == "PUT" and not action:
            await streams.get_or_create(stream_id)
            return await respond(send, 201)
        if method == "DELETE" and not action:
            await streams.delete(stream_id)
            return await respond(send, 200)
        stream = streams.streams.get(stream_id)
        if stream is None:
            return await respond(send, 404, f"no stream {stream_id}".encode())
        if method == "POST" and action == "events":
            payload = json.loads(await read_body(receive))
            stream.events.append((int(payload["seq"]), payload))
            stream.touch()
            return await respond(send, 202)
        if method == "POST" and action == "close":
            stream.closed = True
            stream.touch()
            return await respond(send, 200)
        if method == "POST" and action == "keepalive":
            for queue in stream.pings:
                queue.put_nowait(None)
            return await respond(send, 202)
        if method == "GET" and action == "events":
            header = dict(scope["headers"]).get(b"last-event-id", b"").decode()
            if header and not header.lstrip("-").isdigit():
                return await respond(send, 400, b"Last-Event-ID is not a cursor")
            return await stream_events(stream, int(header) if header else None, receive, send)
        return await respond(send, 405)

    return app


#: Certified below; importable as ``tests.test_sse_wire:provider``.
provider = Provider(
    "alt-sse-raw-asgi",
    event_streams=lambda ctx: RawStreams(),
    capabilities={"sse"},
    options={"sse_app": lambda registry, ctx: raw_app(registry)},
)


def test_a_correct_server_written_differently_passes_every_sse_rule(pytester: pytest.Pytester) -> None:
    pytest.importorskip("uvicorn", reason="the sse extra is not installed: pip install 'pytest-lifecycle[sse]'")
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n")
    result, doc = certify(pytester, "--lifecycle-provider", "tests.test_sse_wire:provider")
    assert verdicts(doc, "alt-sse-raw-asgi") == dict.fromkeys(SSE_RULES, "passed"), (
        "\n".join(f"{r}: {v['message']}" for r, v in doc["providers"]["alt-sse-raw-asgi"].items())
        + result.stdout.str()[-3000:]
    )
