"""The reference SSE server of the stream-resume wire profile (SSE-01..SSE-04).

It serves any registry with the ``event_streams`` surface over HTTP
Server-Sent Events, with the control surface that the wire suite drives
(a server in any language certified with ``--lifecycle-sse-url NAME=URL``
exposes the same):

=====================================  ===========================================
``PUT /streams/{id}``                  create the stream (``get_or_create``): 2xx
``POST /streams/{id}/events``          emit the JSON body (its ``seq`` is the
                                       cursor): 2xx once subscribers will get it
``POST /streams/{id}/close``           close the stream: 2xx
``DELETE /streams/{id}``               delete the stream: 2xx
``POST /streams/{id}/keepalive``       send a keep-alive now on every open
                                       response of the stream: 2xx
``GET /streams/{id}/events``           the stream as ``text/event-stream``,
                                       resumed after ``Last-Event-ID``
=====================================  ===========================================

Requires the ``sse`` extra (``pip install 'pytest-lifecycle[sse]'``).
``python -m reference_impl.sse --port 8000`` serves an in-memory registry.
"""

from __future__ import annotations

from .app import ControlError, Wire, create_app, parse_cursor
from .server import ServerThread

__all__ = ["ControlError", "ServerThread", "Wire", "create_app", "parse_cursor"]
