"""The reference SSE server: a stream registry served over HTTP (SSE-01..SSE-04).

:func:`create_app` builds a Starlette app around any registry with the
stream-resume surface (``get_or_create``/``get``/``delete``; streams with
``emit``/``close``/``subscribe(after=)``).  Routes (the control surface the
wire suite drives, see the package docstring):

``PUT /streams/{id}``, ``POST /streams/{id}/events`` (body: the JSON
payload; ``?close=true`` closes with it), ``POST /streams/{id}/close``,
``DELETE /streams/{id}``, ``POST /streams/{id}/keepalive`` and the stream
itself, ``GET /streams/{id}/events`` (``Last-Event-ID`` or ``?after=N``).

How the rules are kept:

* One event is one message: ``id:`` the cursor, ``data:`` the payload
  encoded once (SSE-01); :class:`Wire` writes them.
* ``Last-Event-ID: N`` (or ``?after=N``; the header wins when both are
  given, since a reconnecting client sets it last) subscribes with
  ``after=N`` (SSE-02).  A malformed one is a 400 that says why.
* *not found* answers 404, *gone* 410, *closed* 409; a closed stream's
  subscription ends, and so does the response, after its last event (SSE-03).
* Keep-alives are comments; a stream deleted under a response ends it with
  an ``event: gone`` message.  Neither carries an ``id:`` (SSE-04).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

__all__ = ["ControlError", "Wire", "create_app", "parse_cursor"]

Payload = Any
CursorFn = Callable[[Payload], int]
#: An exception class, or a tuple of them (as ``isinstance`` takes).
ErrorClasses = type[BaseException] | tuple[type[BaseException], ...]

#: Seconds between keep-alives on an idle response.
KEEPALIVE_INTERVAL: Final = 15.0

_CURSOR: Final = re.compile(r"-?[0-9]{1,30}")
_KEEPALIVE: Final = object()
_END: Final = object()


class ControlError(Exception):
    """A request the server refuses: an HTTP status and a message that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_cursor(value: str, where: str) -> int:
    """The integer cursor *value*; a 400 naming *where* it came from otherwise."""
    if not _CURSOR.fullmatch(value):
        raise ControlError(400, f"{where} {value!r} is not an integer cursor")
    return int(value)


class Wire:
    """How one response finds its stream, resumes and writes its messages.

    Subclasses change one behaviour (the mutants of the wire suite do).
    """

    def event(self, cursor: int, payload: Payload) -> str:
        """One event: its cursor as ``id:``, its payload JSON-encoded once as ``data:`` (SSE-01)."""
        return f"id: {cursor}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"

    def keepalive(self) -> str:
        """A comment: not an event, and it leaves the client's cursor alone (SSE-04)."""
        return ": keep-alive\n\n"

    def gone(self) -> str:
        """The stream was deleted under the response: a control message without ``id:``."""
        return "event: gone\ndata: {}\n\n"

    async def find(self, registry: Any, stream_id: str) -> Any:
        """The stream a GET reads: *not found* and *gone* propagate (SSE-03)."""
        return await registry.get(stream_id)

    def after(self, last_event_id: int | None) -> int | None:
        """The ``after=`` cursor of a request that resumes from *last_event_id* (SSE-02)."""
        return last_event_id

    def ends_when_closed(self) -> bool:
        """The response ends once the subscription does (SSE-03)."""
        return True


class _App:
    def __init__(
        self,
        registry: Any,
        cursor_fn: CursorFn,
        errors: Mapping[str, ErrorClasses],
        wire: Callable[[], Wire],
        keepalive_interval: float,
    ) -> None:
        self.registry = registry
        self.cursor_fn = cursor_fn
        self.wire = wire
        self.keepalive_interval = keepalive_interval
        # Registry errors → HTTP: the contract's names for them (§4).
        self.statuses: list[tuple[ErrorClasses, int]] = [
            (cls, status)
            for name, status in (("gone", 410), ("not_found", 404), ("closed", 409))
            if (cls := errors.get(name)) is not None
        ]
        #: Open responses per stream id: where keep-alive requests go.
        self.listeners: dict[str, set[asyncio.Queue[Any]]] = {}

    def status_of(self, exc: BaseException) -> int | None:
        for cls, status in self.statuses:
            if isinstance(exc, cls):
                return status
        # The registry's own bad-input errors (ids, cursors, payloads).
        return 400 if isinstance(exc, ValueError) else None

    async def call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return await fn()
        except ControlError:
            raise
        except Exception as exc:
            status = self.status_of(exc)
            if status is None:
                raise
            raise ControlError(status, f"{what}: {type(exc).__name__}: {exc}") from exc

    # -- the control surface ------------------------------------------------------

    async def create(self, request: Request) -> Response:
        stream_id = request.path_params["id"]
        await self.call(f"create {stream_id!r}", lambda: self.registry.get_or_create(stream_id))
        return Response(status_code=204)

    async def emit(self, request: Request) -> Response:
        stream_id = request.path_params["id"]
        try:
            payload = json.loads(await request.body())
        except ValueError as exc:
            raise ControlError(400, f"the body of an emit is one JSON payload: {exc}") from None
        close = request.query_params.get("close", "false").lower() in ("1", "true", "yes")
        stream = await self.call(f"emit to {stream_id!r}", lambda: self.registry.get(stream_id))
        await self.call(f"emit to {stream_id!r}", lambda: stream.emit(payload, close=close))
        return JSONResponse({"cursor": self.cursor_fn(payload)})

    async def close(self, request: Request) -> Response:
        stream_id = request.path_params["id"]
        stream = await self.call(f"close {stream_id!r}", lambda: self.registry.get(stream_id))
        await self.call(f"close {stream_id!r}", stream.close)
        return Response(status_code=204)

    async def delete(self, request: Request) -> Response:
        stream_id = request.path_params["id"]
        await self.call(f"delete {stream_id!r}", lambda: self.registry.delete(stream_id))
        return Response(status_code=204)

    async def keepalive(self, request: Request) -> Response:
        for queue in self.listeners.get(request.path_params["id"], ()):
            queue.put_nowait(_KEEPALIVE)
        return Response(status_code=204)

    # -- the stream ---------------------------------------------------------------

    def resume_point(self, request: Request) -> int | None:
        header = request.headers.get("last-event-id", "").strip()
        if header:
            return parse_cursor(header, "Last-Event-ID")
        query = request.query_params.get("after")
        return None if query is None else parse_cursor(query.strip(), "?after=")

    async def events(self, request: Request) -> Response:
        stream_id = request.path_params["id"]
        wire = self.wire()
        after = wire.after(self.resume_point(request))
        stream = await self.call(f"stream {stream_id!r}", lambda: wire.find(self.registry, stream_id))

        async def subscribe() -> AsyncIterator[Payload]:
            return stream.subscribe(after=after)  # type: ignore[no-any-return]

        # Subscribed before the response starts: an unknown or deleted
        # stream is a status code, not an empty 200.
        subscription = await self.call(f"stream {stream_id!r}", subscribe)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        return StreamingResponse(
            self.messages(stream_id, subscription, queue, wire),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def pump(self, subscription: AsyncIterator[Payload], queue: asyncio.Queue[Any]) -> None:
        try:
            async for payload in subscription:
                queue.put_nowait(payload)
        except Exception as exc:
            queue.put_nowait(exc)
        else:
            queue.put_nowait(_END)

    async def messages(
        self, stream_id: str, subscription: AsyncIterator[Payload], queue: asyncio.Queue[Any], wire: Wire
    ) -> AsyncIterator[str]:
        self.listeners.setdefault(stream_id, set()).add(queue)
        pump = asyncio.ensure_future(self.pump(subscription, queue))
        try:
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), self.keepalive_interval)
                except TimeoutError:
                    item = _KEEPALIVE
                if item is _KEEPALIVE:
                    yield wire.keepalive()
                elif item is _END:
                    if wire.ends_when_closed():
                        return
                elif isinstance(item, Exception):
                    if self.status_of(item) == 410:
                        yield wire.gone()
                        return
                    raise item
                else:
                    yield wire.event(self.cursor_fn(item), item)
        finally:
            pump.cancel()
            with contextlib.suppress(BaseException):
                await pump
            listening = self.listeners.get(stream_id, set())
            listening.discard(queue)
            if not listening:
                self.listeners.pop(stream_id, None)
            aclose = getattr(subscription, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ControlError)
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def create_app(
    registry: Any,
    *,
    cursor_fn: CursorFn,
    errors: Mapping[str, ErrorClasses],
    wire: Callable[[], Wire] = Wire,
    keepalive_interval: float = KEEPALIVE_INTERVAL,
) -> Starlette:
    """The SSE app serving *registry*.

    :param cursor_fn: the cursor of a payload (the registry's own).
    :param errors: the registry's exception classes by the contract's names:
        ``not_found``, ``gone``, ``closed``.
    :param wire: builds the :class:`Wire` of each response.
    :param keepalive_interval: seconds between keep-alives on an idle response.
    """
    app = _App(registry, cursor_fn, errors, wire, keepalive_interval)
    routes = [
        Route("/streams/{id}", app.create, methods=["PUT"]),
        Route("/streams/{id}", app.delete, methods=["DELETE"]),
        Route("/streams/{id}/events", app.emit, methods=["POST"]),
        Route("/streams/{id}/events", app.events, methods=["GET"]),
        Route("/streams/{id}/close", app.close, methods=["POST"]),
        Route("/streams/{id}/keepalive", app.keepalive, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={ControlError: _refused})
