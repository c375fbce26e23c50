"""Run an SSE app with uvicorn: in a thread (the kit's tests) or as a process.

The socket is bound before uvicorn starts, on an ephemeral port of
127.0.0.1, so the URL is known at once and a client that connects before
uvicorn accepts waits in the listen backlog: nothing polls for readiness.
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
from typing import Any, Final

import uvicorn

__all__ = ["ServerThread", "bind", "main", "uvicorn_server"]

#: Seconds a stopping server waits for open responses before it cancels them.
GRACE: Final = 2


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket on *host*:*port* (0: an ephemeral port)."""
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that
    # say so, and without it every response with a body waits ~40 ms (Nagle
    # against delayed ACKs).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def uvicorn_server(app: Any) -> uvicorn.Server:
    """A quiet uvicorn server for *app*: no logging setup of its own, no lifespan."""
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,
        lifespan="off",
        loop="asyncio",
        http="h11",
        timeout_graceful_shutdown=GRACE,
    )
    return uvicorn.Server(config)


class ServerThread:
    """Serves *app* on 127.0.0.1 from a daemon thread; a context manager.

    ``url`` is usable as soon as the object exists; :meth:`stop` asks
    uvicorn to shut down and joins the thread.
    """

    def __init__(self, app: Any, *, name: str = "lifecycle-sse-server") -> None:
        self._sock = bind()
        self.url: Final = url_of(self._sock)
        self._server = uvicorn_server(app)
        #: What ended the server thread, if it was an exception.
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # handed to whoever stops the server
            self.error = exc
        finally:
            self._sock.close()

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = GRACE + 3.0) -> bool:
        """Shut down; ``False`` if the thread is still running after *timeout*."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self._sock.close()
        if self._thread.is_alive():
            self._server.force_exit = True
            return False
        return True

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m reference_impl.sse``: serve an in-memory registry until interrupted.

    Prints ``serving http://HOST:PORT`` once the socket listens (``--port 0``
    picks a free port), so a parent process can read the URL.
    """
    from reference_impl.event_streams import ERRORS, MemoryStreamRegistry

    from .app import KEEPALIVE_INTERVAL, create_app

    parser = argparse.ArgumentParser(prog="python -m reference_impl.sse", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--keepalive", type=float, default=KEEPALIVE_INTERVAL, help="seconds between keep-alives")
    args = parser.parse_args(argv)

    def cursor(payload: Any) -> int:
        return int(payload["seq"])

    registry = MemoryStreamRegistry(cursor_fn=cursor)
    app = create_app(registry, cursor_fn=cursor, errors=ERRORS, keepalive_interval=args.keepalive)
    sock = bind(args.host, args.port)
    print(f"serving {url_of(sock)}", flush=True)
    server = uvicorn_server(app)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
