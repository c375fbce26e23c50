"""The client side of the SSE wire profile (SSE-01..SSE-04): httpx + httpx-sse.

A :class:`Wire` drives one server through its control surface (create,
emit, close, delete, keep-alive) and opens SSE connections on it; a
:class:`Connection` reads messages the way an ``EventSource`` does: the
client's cursor (its last event id) is moved by every ``id:`` field, of
events and control messages alike.

The server under test is either a URL (``--lifecycle-sse-url NAME=URL``,
reported as provider ``NAME``), or the selected provider's registry served
by the reference server (or by the provider's own app, ``options["sse_app"]``)
on 127.0.0.1 for the test.  Every read is bounded by the kit timeout: a
server that stops sending fails the rule, naming the stream and the last id
received.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pytest

from pytest_lifecycle import Provider

if TYPE_CHECKING:
    import httpx

    from pytest_lifecycle import Kit

__all__ = ["INSTALL_HINT", "Connection", "Received", "ServerSilent", "Wire", "open_wire", "sse_targets", "wire_profile"]

INSTALL_HINT: Final = "pip install 'pytest-lifecycle[sse]'"
#: Where a provider built from ``--lifecycle-sse-url`` keeps its URL.
URL_OPTION: Final = "sse_url"
#: A provider's own ASGI app for its registry: ``options["sse_app"](registry, ctx)``.
APP_OPTION: Final = "sse_app"

Payload = Any


def kit_cursor(payload: Payload) -> int:
    """The cursor of the kit's payloads (§4: ``payload["seq"]``)."""
    return int(payload["seq"])


# -- targets ----------------------------------------------------------------------


def _served_elsewhere(ctx: object) -> object:
    raise RuntimeError("this provider is a server certified by URL over HTTP: the kit builds no registry for it")


def sse_targets(config: pytest.Config, providers: list[Provider]) -> list[Provider]:
    """The providers the wire tests certify: the servers of ``--lifecycle-sse-url``, or *providers*."""
    given: list[tuple[str, str]] = config.getoption("lifecycle_sse_url", None) or []
    if not given:
        return providers
    names = [name for name, _ in given]
    if len(set(names)) != len(names):
        raise pytest.UsageError(f"--lifecycle-sse-url: each NAME once, got {names}")
    targets = []
    for name, url in given:
        target = Provider(name, event_streams=_served_elsewhere, capabilities={"sse"}, options={URL_OPTION: url})
        target.origin = f"--lifecycle-sse-url {url}"
        targets.append(target)
    return targets


def wire_profile(rule_id: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Mark a test of the wire profile: its rule, and the targets it certifies."""

    def mark(test: Callable[..., None]) -> Callable[..., None]:
        test.lifecycle_targets = sse_targets  # type: ignore[attr-defined]
        marked: Callable[..., None] = pytest.mark.rule(rule_id)(test)
        return marked

    return mark


def _missing(modules: tuple[str, ...]) -> list[str]:
    return [m for m in modules if importlib.util.find_spec(m) is None]


# -- what comes over the wire -----------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message the client got, as the kit reads it.

    ``id_before``/``id_after`` are the client's cursor (its last event id)
    before and after the message; ``payload`` is ``data:`` decoded once.
    """

    event: str
    data: str
    id_before: str
    id_after: str
    #: The emitted event this message carries (its ``seq``), if any.
    seq: int | None
    payload: Payload
    #: How many JSON decodings it took to reach the emitted payload.
    encodings: int

    @property
    def is_event(self) -> bool:
        return self.seq is not None

    def describe(self) -> str:
        kind = f"event seq={self.seq}" if self.is_event else "control message"
        moved = (
            f"id {self.id_before!r}->{self.id_after!r}" if self.id_after != self.id_before else f"id {self.id_after!r}"
        )
        return f"{kind} (event: {self.event}, data: {_clip(self.data)}, {moved})"


def _clip(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _decode(data: str, emitted: dict[int, Payload]) -> tuple[int | None, Payload, int]:
    """(seq, payload decoded once, encodings): which emitted event *data* carries, if any.

    A payload encoded twice (a JSON string holding the JSON) is recognised,
    so that the failure can say so.
    """
    try:
        value = json.loads(data)
    except ValueError:
        return None, None, 0
    inner, encodings = value, 1
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            inner, encodings = json.loads(value), 2
    seq = inner.get("seq") if isinstance(inner, dict) else None
    if isinstance(seq, int) and not isinstance(seq, bool) and seq in emitted:
        return seq, value, encodings
    return None, value, 1


class ServerSilent(BaseException):
    """The server sent nothing within the kit timeout: fail the rule, do not shrink.

    Not an ``Exception``, so it escapes Hypothesis (every shrink attempt
    would wait the timeout again); :func:`open_wire` turns it into the rule's
    failure.
    """


class _Deadlined:
    """The response as httpx-sse reads it, with the kit's deadline on every chunk.

    httpx's read timeout bounds each socket read; comments arriving more
    often than that must not keep a client waiting for an event forever.
    Every ``iter_*`` method (httpx-sse reads ``iter_lines`` or ``iter_text``,
    depending on its version) checks the deadline; the rest passes through.
    """

    def __init__(self, response: httpx.Response, connection: Connection) -> None:
        self._response = response
        self._connection = connection

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._response, name)
        if not name.startswith("iter_") or not callable(attr):
            return attr

        def deadlined(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for chunk in attr(*args, **kwargs):
                self._connection.check_deadline()
                yield chunk

        return deadlined


class Connection:
    """One open SSE response, read message by message."""

    def __init__(self, wire: Wire, stream_id: str, response: httpx.Response, last_event_id: str, number: int) -> None:
        from httpx_sse import EventSource

        self.wire = wire
        self.stream_id = stream_id
        self.number = number
        #: The Last-Event-ID this connection was opened with ("" for none).
        self.resumed_from = last_event_id
        #: The client's cursor: what it would send as Last-Event-ID.
        self.cursor = last_event_id
        self.messages: list[Received] = []
        self.ended = False
        self._response = response
        self._sse = EventSource(_Deadlined(response, self)).iter_sse()  # type: ignore[arg-type]
        self._deadline = 0.0
        self._waiting_for = ""
        self._had_id = False

    def __repr__(self) -> str:
        return f"connection {self.number} to {self.stream_id!r} (Last-Event-ID: {self.resumed_from!r})"

    def check_deadline(self) -> None:
        if time.monotonic() > self._deadline:
            self._silent()

    def _silent(self) -> NoReturn:
        wire = self.wire
        raise ServerSilent(
            f"server {wire.name!r} sent no event for {wire.kit.timeout:g}s on stream {self.stream_id!r} while the "
            f"kit waited for {self._waiting_for} (last id received: {self.cursor!r}; {self!r})"
        )

    def deadline(self) -> float:
        """When a wait that starts now runs out: the kit timeout from now."""
        return time.monotonic() + self.wire.kit.timeout

    def next_message(self, waiting_for: str, deadline: float | None = None) -> Received | None:
        """The next message (``None`` once the response ended), by *deadline* (default: the kit timeout)."""
        import httpx

        self._waiting_for = waiting_for
        self._deadline = self.deadline() if deadline is None else deadline
        if self.ended:
            return None
        try:
            sse = next(self._sse)
        except StopIteration:
            self.ended = True
            self.wire.kit.note(f"{self!r} ended")
            return None
        except httpx.TimeoutException:
            self._silent()
        except httpx.HTTPError as exc:
            self.wire.kit.fail(f"{self!r} broke while the kit waited for {waiting_for}: {type(exc).__name__}: {exc}")
        # httpx-sse's decoder starts each response with an empty last id;
        # an EventSource keeps the one it resumed with until an id: comes.
        self._had_id = self._had_id or sse.id != ""
        after = sse.id if self._had_id else self.cursor
        seq, payload, encodings = _decode(sse.data, self.wire.emitted_by_seq(self.stream_id))
        message = Received(sse.event, sse.data, self.cursor, after, seq, payload, encodings)
        self.cursor = after
        self.messages.append(message)
        self.wire.kit.note(f"read {message.describe()}")
        return message

    def next_event(self, waiting_for: str, deadline: float | None = None) -> Received | None:
        """The next message that carries an emitted event; ``None`` once the response ended."""
        deadline = self.deadline() if deadline is None else deadline
        while True:
            message = self.next_message(waiting_for, deadline)
            if message is None or message.is_event:
                return message

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._sse.close()  # type: ignore[attr-defined]
        with contextlib.suppress(Exception):
            self._response.close()


# -- the control surface ----------------------------------------------------------


class Wire:
    """The server under test: its control surface and its SSE connections."""

    def __init__(self, kit: Kit, name: str, url: str, client: httpx.Client) -> None:
        self.kit = kit
        self.name = name
        self.url = url
        self.client = client
        self._prefix = f"kit-{uuid.uuid4().hex[:10]}"
        self._numbers = itertools.count(1)
        self._connections: list[Connection] = []
        self._created: list[str] = []
        self._emitted: dict[str, list[Payload]] = {}

    # -- bookkeeping --------------------------------------------------------------

    def emitted(self, stream_id: str) -> list[Payload]:
        """What the kit emitted to *stream_id*, in order."""
        return self._emitted.setdefault(stream_id, [])

    def emitted_by_seq(self, stream_id: str) -> dict[int, Payload]:
        return {kit_cursor(p): p for p in self.emitted(stream_id)}

    # -- requests -----------------------------------------------------------------

    def request(self, method: str, path: str, *, body: Payload = None, expect_ok: bool = True) -> httpx.Response:
        """One control request; a non-2xx answer fails the rule unless *expect_ok* is false."""
        import httpx

        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if content is not None else {}
        try:
            response = self.client.request(method, path, content=content, headers=headers)
        except httpx.TimeoutException:
            raise ServerSilent(
                f"server {self.name!r} did not answer {method} {path} within {self.kit.timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            self.kit.fail(f"server {self.name!r} at {self.url}: {method} {path} failed: {type(exc).__name__}: {exc}")
        self.kit.note(f"{method} {path} -> {response.status_code}")
        if expect_ok and not response.is_success:
            self.kit.fail(
                f"control surface: server {self.name!r} answered {method} {path} with {response.status_code} "
                f"{_clip(response.text)} (the kit needs 2xx here)"
            )
        return response

    def new_stream(self) -> str:
        """A fresh stream id, created on the server."""
        stream_id = self.unknown_id()
        self.request("PUT", f"/streams/{stream_id}")
        self._created.append(stream_id)
        return stream_id

    def unknown_id(self) -> str:
        """An id no one has used (unique per run, so a shared server stays clean)."""
        return f"{self._prefix}-{next(self._numbers)}"

    def emit(self, stream_id: str, payload: Payload) -> None:
        self.emitted(stream_id).append(payload)
        self.request("POST", f"/streams/{stream_id}/events", body=payload)

    def close_stream(self, stream_id: str) -> None:
        self.request("POST", f"/streams/{stream_id}/close")

    def delete(self, stream_id: str) -> None:
        self.request("DELETE", f"/streams/{stream_id}")

    def keepalive(self, stream_id: str) -> bool:
        """Ask for a keep-alive on the stream's open responses; ``False`` if the server offers none."""
        response = self.request("POST", f"/streams/{stream_id}/keepalive", expect_ok=False)
        if response.status_code in (404, 405, 501):
            return False
        if not response.is_success:
            self.kit.fail(f"control surface: POST /streams/{stream_id}/keepalive answered {response.status_code}")
        return True

    # -- the stream ---------------------------------------------------------------

    def _open(self, stream_id: str, last_event_id: str) -> httpx.Response:
        import httpx

        path = f"/streams/{stream_id}/events"
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        request = self.client.build_request("GET", path, headers=headers)
        try:
            response = self.client.send(request, stream=True)
        except httpx.TimeoutException:
            raise ServerSilent(
                f"server {self.name!r} did not answer GET {path} (Last-Event-ID: {last_event_id!r}) within "
                f"{self.kit.timeout:g}s"
            ) from None
        except httpx.HTTPError as exc:
            self.kit.fail(f"server {self.name!r} at {self.url}: GET {path} failed: {type(exc).__name__}: {exc}")
        self.kit.note(f"GET {path} (Last-Event-ID: {last_event_id!r}) -> {response.status_code}")
        return response

    def status_of(self, stream_id: str, last_event_id: str = "") -> int:
        """The status code ``GET /streams/{id}/events`` answers (the body is not read)."""
        response = self._open(stream_id, last_event_id)
        response.close()
        return response.status_code

    def connect(self, stream_id: str, last_event_id: str = "") -> Connection:
        """An open SSE connection, resumed after *last_event_id* ("" for the start)."""
        response = self._open(stream_id, last_event_id)
        kind = response.headers.get("content-type", "").partition(";")[0].strip()
        if response.status_code != 200 or kind != "text/event-stream":
            response.close()
            self.kit.fail(
                f"GET /streams/{stream_id}/events (Last-Event-ID: {last_event_id!r}) answered "
                f"{response.status_code} {kind or 'without a content type'}, expected 200 text/event-stream"
            )
        number = 1 + sum(1 for c in self._connections if c.stream_id == stream_id)
        connection = Connection(self, stream_id, response, last_event_id, number)
        self._connections.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._connections:
            connection.close()
        # A shared server keeps what the kit made only as long as needed.
        if URL_OPTION in self.kit.provider.options:
            for stream_id in self._created:
                with contextlib.suppress(Exception):
                    self.client.delete(f"/streams/{stream_id}")
        self.client.close()


# -- opening a wire ---------------------------------------------------------------


def _context_extras(kit: Kit) -> dict[str, Any]:
    from pytest_lifecycle.support import contract_support

    # The contract's extras (cursor_fn, ttl_seconds): the registry reads
    # cursors as the kit's payloads carry them.
    return contract_support("event_streams").context_extras(kit)


@contextlib.contextmanager
def _served(kit: Kit) -> Iterator[str]:
    """The provider's registry served on 127.0.0.1 for the test: its URL."""
    from pytest_lifecycle import ProviderError, unwrap
    from pytest_lifecycle.support import StreamErrors
    from reference_impl.sse import ServerThread, create_app

    provider = kit.provider
    ctx = kit.context("event_streams", **_context_extras(kit))
    registry = unwrap(kit.instance("event_streams", ctx=ctx))
    build = provider.options.get(APP_OPTION)
    try:
        if build is not None:
            app = build(registry, ctx)
        else:
            named = StreamErrors.of(kit, registry)
            errors = {"not_found": named.not_found, "gone": named.gone, "closed": named.closed}
            app = create_app(registry, cursor_fn=ctx.cursor_fn, errors=errors)
    except ProviderError:
        raise
    except Exception as exc:
        raise ProviderError(
            f"building the SSE app raised {type(exc).__name__}: {exc}",
            provider=provider.name,
            contract="event_streams",
            rule=kit.rule.id,
        ) from exc
    server = ServerThread(app).start()
    kit.note(f"serving provider {provider.name!r} at {server.url}")
    try:
        yield server.url
    finally:
        stopped = server.stop()
        if server.error is not None:
            raise server.error
        if not stopped:
            raise ProviderError(
                f"the SSE server did not stop: a response of provider {provider.name!r} is still running",
                provider=provider.name,
                contract="event_streams",
                rule=kit.rule.id,
            )


@contextlib.contextmanager
def open_wire(kit: Kit) -> Iterator[Wire]:
    """The server under test, for one test.

    Skips with the install hint when the ``sse`` extra is missing (the rule
    then reads *skipped*, never *passed*).  A :class:`ServerSilent` raised
    inside becomes the rule's failure.
    """
    url = kit.provider.options.get(URL_OPTION)
    missing = _missing(("httpx", "httpx_sse") if url else ("httpx", "httpx_sse", "starlette", "uvicorn"))
    if missing:
        pytest.skip(f"the sse wire profile needs {', '.join(missing)}: {INSTALL_HINT}")
    import httpx

    with contextlib.ExitStack() as stack:
        served = url is None
        if url is None:
            url = stack.enter_context(_served(kit))
        # A server the kit runs on 127.0.0.1 is reached directly, whatever the
        # environment's proxy settings; a URL is reached as the user's tools would.
        client = httpx.Client(base_url=url, timeout=httpx.Timeout(kit.timeout), trust_env=not served)
        wire = Wire(kit, kit.provider.name, url, client)
        stack.callback(wire.close)
        try:
            yield wire
        except ServerSilent as silent:
            kit.fail(str(silent))
