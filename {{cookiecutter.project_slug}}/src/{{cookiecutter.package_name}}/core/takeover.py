"""Where a websocket leaves aiohttp: its socket handed over after the handshake.

aiohttp serves HTTP, the page and the handshake. Once the ``101`` is written,
the socket goes to a :class:`~.websocket.WebSocket`, and aiohttp keeps nothing
of it: no request handler, no task, no request state. That is what makes an
open connection cheap, in memory and per message (see ``websocket.py``).

This is the one module that reaches into aiohttp's internals, and
``tests/test_takeover.py`` fails loudly when an aiohttp release changes one of
them; ``pyproject.toml`` pins the releases they were checked against. The
touch points:

- the request handler's ``transport``, set to None, so that what is left of
  its request writes nothing and closes nothing;
- the bytes that followed the upgrade request (``_message_tail``), which a
  client may send before it reads the ``101``;
- the handler's ``connection_lost``, called here, so that the server forgets
  the connection (it no longer counts it, nor closes it at shutdown);
- aiohttp's frame parser (``aiohttp._websocket.reader``, compiled), which
  fills a queue the subclass below replaces with a callback.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader

__all__ = ["FrameParser", "take_over"]


def take_over(request: web.Request, protocol: asyncio.Protocol) -> tuple[asyncio.Transport, bytes]:
    """Give ``request``'s socket to ``protocol``; return it, and the bytes already read past
    the request.

    Call it once the handshake's ``101`` is written; the request handler then
    returns a response that goes nowhere (see :func:`unsent_response`).
    """
    handler: Any = request.protocol
    transport = handler.transport
    if transport is None:
        raise ConnectionResetError("the client went away during the handshake")
    tail: bytes = handler._message_tail
    handler._message_tail = b""
    transport.set_protocol(protocol)
    handler.transport = None
    handler.connection_lost(None)
    return transport, tail


class _Unsent(web.StreamResponse):
    """A response that writes nothing: the ``101`` went out before the takeover."""

    async def prepare(self, request: web.BaseRequest) -> None:
        return None

    async def write_eof(self, data: bytes = b"") -> None:
        pass


def unsent_response() -> web.StreamResponse:
    """What the websocket's request handler returns once the socket is handed over.

    aiohttp logs it as the request's access line (status 101, as sent), and
    lets the request go: there is nothing to write, nor anything to write it to.
    """
    return _Unsent(status=101)


class _Messages(WebSocketDataQueue):
    """The parser's output queue, replaced by a call per message (and one for an error)."""

    __slots__ = ("_deliver", "_fail")

    def __init__(
        self, deliver: Callable[[Any, int], None], fail: Callable[[BaseException], None]
    ) -> None:
        super().__init__(None, 0, loop=None)  # type: ignore[arg-type]  # neither is used
        self._deliver = deliver
        self._fail = fail

    def feed_data(self, data: Any, size: int) -> None:
        self._deliver(data, size)

    def set_exception(self, exc: BaseException, exc_cause: Any = None) -> None:
        self._fail(exc)

    def feed_eof(self) -> None:
        pass


class FrameParser:
    """RFC 6455 frames in, ``(type, data, extra)`` messages out, through ``deliver``.

    Fragments are joined, text is decoded (invalid UTF-8 is an error), and a
    message over ``max_size`` bytes is an error. ``fail`` gets the
    ``aiohttp.WebSocketError`` (its ``code`` the close code that fits), after
    which the parser takes nothing more.
    """

    __slots__ = ("_reader",)

    def __init__(
        self,
        max_size: int,
        deliver: Callable[[Any, int], None],
        fail: Callable[[BaseException], None],
    ) -> None:
        self._reader = WebSocketReader(  # it refuses a message of its limit already: hence + 1
            _Messages(deliver, fail), max_size + 1, compress=False, decode_text=True
        )

    def feed(self, data: bytes) -> None:
        self._reader.feed_data(data)
