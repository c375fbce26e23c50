"""The reference SSE server (``reference_impl.sse``) on bad input, over real HTTP.

Every refusal is a status code with a message that says why: an unknown
stream is 404, a deleted one 410, a closed one 409 to an emit, a malformed
``Last-Event-ID`` or body 400.  Waits are reads of the stream, bounded by
httpx timeouts; nothing sleeps.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="the sse extra is not installed: pip install 'pytest-lifecycle[sse]'")
# httpx imports httpcore at its first request and caches httpcore's exception
# classes; imported here too, so that in-process pytester runs (which drop the
# modules a run imports) do not leave httpx mapping a dropped httpcore's.
import httpcore  # noqa: E402, F401

pytest.importorskip("starlette", reason="the sse extra is not installed: pip install 'pytest-lifecycle[sse]'")
pytest.importorskip("uvicorn", reason="the sse extra is not installed: pip install 'pytest-lifecycle[sse]'")

from reference_impl.event_streams import ERRORS, MemoryStreamRegistry  # noqa: E402
from reference_impl.sse import ServerThread, create_app  # noqa: E402

TIMEOUT = 5.0  # safety-net: every read is a real read, this only bounds a broken server


def cursor(payload: Any) -> int:
    return int(payload["seq"])


def serve(**options: Any) -> Iterator[httpx.Client]:
    registry = MemoryStreamRegistry(cursor_fn=cursor)
    with (
        ServerThread(create_app(registry, cursor_fn=cursor, errors=ERRORS, **options)) as server,
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
    ):
        yield client


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    yield from serve()


def lines_of(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> Iterator[str]:
    """The raw lines of an SSE response, as they come."""
    with client.stream("GET", path, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        yield from response.iter_lines()


def error_of(response: httpx.Response) -> str:
    return str(response.json()["error"])


def test_unknown_stream_is_404_everywhere(client: httpx.Client) -> None:
    for method, path in (
        ("GET", "/streams/nope/events"),
        ("POST", "/streams/nope/events"),
        ("POST", "/streams/nope/close"),
    ):
        response = client.request(method, path, content=b'{"seq": 1}')
        assert response.status_code == 404, (method, path, response.text)
        assert "'nope'" in error_of(response)


def test_deleted_stream_is_410_and_delete_is_idempotent(client: httpx.Client) -> None:
    client.put("/streams/s")
    assert client.delete("/streams/s").status_code == 204
    assert client.delete("/streams/s").status_code == 204
    for method, path in (("GET", "/streams/s/events"), ("POST", "/streams/s/events")):
        response = client.request(method, path, content=b'{"seq": 1}')
        assert response.status_code == 410, (method, path, response.text)
        assert "gone" in error_of(response)


@pytest.mark.parametrize("value", ["abc", "1.5", "1_0", "+3", "0x10", "9" * 40])
def test_malformed_last_event_id_is_400(client: httpx.Client, value: str) -> None:
    client.put("/streams/s")
    response = client.get("/streams/s/events", headers={"Last-Event-ID": value})
    assert response.status_code == 400
    assert error_of(response) == f"Last-Event-ID {value!r} is not an integer cursor"
    response = client.get("/streams/s/events", params={"after": value})
    assert response.status_code == 400
    assert "?after=" in error_of(response)


def test_bad_emits_are_refused_with_the_reason(client: httpx.Client) -> None:
    client.put("/streams/s")
    response = client.post("/streams/s/events", content=b"{not json")
    assert response.status_code == 400 and "one JSON payload" in error_of(response)
    assert client.post("/streams/s/events", json={"seq": 5}).json() == {"cursor": 5}
    response = client.post("/streams/s/events", json={"seq": 5})
    assert response.status_code == 400 and "not above the last cursor 5" in error_of(response)
    response = client.post("/streams/s/events", json={"no": "seq"})
    assert response.status_code == 400 and "cursor" in error_of(response)
    client.post("/streams/s/close")
    response = client.post("/streams/s/events", json={"seq": 6})
    assert response.status_code == 409 and "closed" in error_of(response)


def test_after_query_alias_and_the_header_wins(client: httpx.Client) -> None:
    client.put("/streams/s")
    for seq in (1, 2, 3):
        client.post("/streams/s/events", json={"seq": seq})
    client.post("/streams/s/close")
    ids = lambda lines: [line for line in lines if line.startswith("id:")]
    assert ids(lines_of(client, "/streams/s/events?after=1")) == ["id: 2", "id: 3"]
    # A reconnecting EventSource keeps its URL and sets the header: the header is newer.
    assert ids(lines_of(client, "/streams/s/events?after=0", {"Last-Event-ID": "2"})) == ["id: 3"]
    assert ids(lines_of(client, "/streams/s/events", {"Last-Event-ID": ""})) == ["id: 1", "id: 2", "id: 3"]


def test_event_is_one_message_with_the_payload_encoded_once(client: httpx.Client) -> None:
    payload = {"seq": 7, "text": "two\nlines", "more": ["é", None]}
    client.put("/streams/s")
    client.post("/streams/s/events?close=true", json=payload)
    lines = list(lines_of(client, "/streams/s/events"))
    assert lines[:2] == ["id: 7", f"data: {json.dumps(payload, separators=(',', ':'))}"]
    assert json.loads(lines[1].removeprefix("data: ")) == payload


def test_keepalive_is_a_comment_and_the_interval_sends_one() -> None:
    for client in serve(keepalive_interval=0.05):
        client.put("/streams/s")
        lines = lines_of(client, "/streams/s/events")
        # Read until the idle response's keep-alive comes: no event was emitted.
        assert next(lines) == ": keep-alive"
        client.post("/streams/s/keepalive")
        assert next(line for line in lines if line) == ": keep-alive"


def test_stream_deleted_under_a_response_ends_it_with_gone(client: httpx.Client) -> None:
    client.put("/streams/s")
    client.post("/streams/s/events", json={"seq": 1})
    lines = lines_of(client, "/streams/s/events")
    assert next(lines) == "id: 1"
    client.delete("/streams/s")
    rest = list(lines)
    assert "event: gone" in rest and not any(line.startswith("id:") for line in rest), rest


def test_server_stops_with_a_response_open() -> None:
    registry = MemoryStreamRegistry(cursor_fn=cursor)
    server = ServerThread(create_app(registry, cursor_fn=cursor, errors=ERRORS)).start()
    with httpx.Client(base_url=server.url, timeout=TIMEOUT) as client:
        client.put("/streams/s")
        with client.stream("GET", "/streams/s/events") as response:
            assert response.status_code == 200
            assert server.stop(), "the server thread is still running"
    assert server.error is None
