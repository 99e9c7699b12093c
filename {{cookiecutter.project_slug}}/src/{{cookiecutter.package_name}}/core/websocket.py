"""An open websocket on its own socket: frames in, frames out, pings and the closing handshake.

aiohttp answers the handshake; :func:`accept` writes the ``101`` and hands the
socket to a :class:`WebSocket` (see ``takeover.py``). From then on, what the
client sends is parsed as it arrives and each message is handed at once to the
connection's handler, one at a time and in order. Each handler runs as a task
(on Python 3.12+ started at once, so one that needs no wait is done within the
callback that parsed its message); the messages that arrive while one waits
wait for it (past 64 KiB of them, the socket stops reading, so a client cannot
outrun its handler).

Writes go straight to the socket. :attr:`WebSocket.writable` says whether the
kernel took everything written so far; when it did not, the connection queues
(see ``connection.py``) until the socket calls ``on_writable``.

Pings: :meth:`WebSocket.beat`, called for every connection by one sweep every
``--heartbeat`` seconds (see ``routes.py``), pings a peer that said nothing
since the last sweep and drops one that did not answer the sweep before. A
ping from the peer is answered at once, its pong noted.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket as socket_module
import sys
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from aiohttp import WebSocketError, WSCloseCode, WSMsgType, hdrs, web

from .frame_parsers import PARSERS, ParserFactory
from .frames import PING_FRAME, close_frame, pong_frame
from .takeover import take_over

__all__ = ["CLOSE_TIMEOUT", "Handler", "WebSocket", "accept"]

CLOSE_TIMEOUT = 1.0  # seconds a closing handshake may take before the socket is aborted
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
_BACKLOG_BYTES = 64 * 1024  # messages held while a handler waits, before reading pauses
# The kernel's share of a slow client's backlog. Left alone, Linux grows a socket's send buffer
# to megabytes (tcp_wmem), which would hold the backlog before the queue limit ever sees it.
KERNEL_SEND_BUFFER = 64 * 1024
# The handler's answer to a message: nothing left to do, or the rest of the work.
Handled = Coroutine[Any, Any, None] | None
# Handed each message as aiohttp's parser makes it: its type, its data, and its extra
# (a close frame's reason); and, last, LOST, once the socket is closed.
Handler = Callable[[int, Any, Any], Handled]
LOST = -1  # not a WSMsgType: the socket is gone; nothing follows
_TEXT, _BINARY, _CLOSE = int(WSMsgType.TEXT), int(WSMsgType.BINARY), int(WSMsgType.CLOSE)
_PING, _PONG = int(WSMsgType.PING), int(WSMsgType.PONG)


def accept(
    request: web.Request,
    subprotocols: tuple[str, ...],
    headers: Mapping[str, str],
    max_message_size: int,
    frame_parser: str,
) -> WebSocket:
    """Answer ``request``'s handshake with ``101`` (and ``headers``) and take its socket over.

    A handshake that RFC 6455 would refuse gets 400, from aiohttp, before
    anything is written. The first of the client's subprotocols that is one of
    ``subprotocols`` is chosen; none, if there is no such one. ``frame_parser``
    names one of ``frame_parsers.PARSERS``.
    """
    key = _client_key(request)
    subprotocol = _choose_subprotocol(request, subprotocols)
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + base64.b64encode(hashlib.sha1(key + _ACCEPT_GUID).digest()),
    ]
    if subprotocol is not None:
        lines.append(b"Sec-WebSocket-Protocol: " + subprotocol.encode())
    lines.extend(f"{name}: {value}".encode() for name, value in headers.items())
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the client went away during the handshake")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket_module.SOL_SOCKET, socket_module.SO_SNDBUF, KERNEL_SEND_BUFFER)
    transport.write(b"\r\n".join(lines) + b"\r\n\r\n")
    websocket = WebSocket(subprotocol, PARSERS[frame_parser], max_message_size)
    websocket.attach(*take_over(request, websocket))
    return websocket


def _client_key(request: web.Request) -> bytes:
    """The handshake's ``Sec-WebSocket-Key``, once its request is checked (RFC 6455, 4.2.1)."""
    headers = request.headers
    connection = {token.strip().lower() for token in headers.get(hdrs.CONNECTION, "").split(",")}
    if "upgrade" not in connection:
        raise web.HTTPBadRequest(text="a websocket handshake needs Connection: Upgrade")
    if headers.get(hdrs.SEC_WEBSOCKET_VERSION, "").strip() != "13":
        raise web.HTTPBadRequest(
            text="unsupported websocket version", headers={hdrs.SEC_WEBSOCKET_VERSION: "13"}
        )
    key = headers.get(hdrs.SEC_WEBSOCKET_KEY, "").strip().encode()
    try:
        valid = len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        valid = False
    if not valid:
        raise web.HTTPBadRequest(text="Sec-WebSocket-Key must be 16 bytes in base64")
    return key


def _choose_subprotocol(request: web.Request, subprotocols: tuple[str, ...]) -> str | None:
    offered = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL, "")
    for name in (name.strip() for name in offered.split(",")):
        if name in subprotocols:
            return name
    return None


class WebSocket(asyncio.Protocol):
    """One client's websocket, after the handshake (see the module's docstring)."""

    __slots__ = (
        "_backlog",
        "_backlog_bytes",
        "_close_received",
        "_close_timer",
        "_handler",
        "_heard",
        "_lost",
        "_parser",
        "_pinged",
        "_running",
        "_settled",
        "close_code",
        "close_reason",
        "close_sent",
        "on_writable",
        "subprotocol",
        "transport",
        "writable",
    )

    def __init__(
        self, subprotocol: str | None, parser: ParserFactory, max_message_size: int
    ) -> None:
        self.subprotocol = subprotocol
        # The first close frame's code on the wire (0: one without a code), whichever side sent
        # it; None while there was none.
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_sent = False
        self.writable = False  # whether the kernel took everything written so far
        self.on_writable: Callable[[], None] | None = None  # called when that becomes true
        self._parser = parser(max_message_size, self._received, self._failed)
        self.transport: asyncio.Transport | None = None  # None until attached, and once closed
        self._handler: Handler | None = None  # set by start(); messages wait until then
        # What arrived while a handler ran (or before start()), and its size; None: nothing.
        self._backlog: deque[tuple[int, Any, Any]] | None = deque()
        self._backlog_bytes = 0
        self._running: asyncio.Task[None] | None = None
        self._close_received = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._lost: asyncio.Future[None] | None = None  # made by wait_closed()
        self._settled = False  # the socket is closed and its handler done with it
        self._heard = True  # anything from the peer since the last sweep
        self._pinged = False  # a ping of ours is unanswered

    # The transport's side.

    def attach(self, transport: asyncio.Transport, tail: bytes) -> None:
        """Take ``transport``, already handed over, and the bytes that came with the handshake.

        Nothing is read until :meth:`start`.
        """
        self.transport = transport
        # A frame goes straight to the socket only once all before it reached the kernel.
        transport.set_write_buffer_limits(high=0)
        self.writable = transport.get_write_buffer_size() == 0
        transport.pause_reading()
        if tail:
            self._parser.feed(tail)

    def data_received(self, data: bytes) -> None:
        self._heard = True
        self._parser.feed(data)

    def eof_received(self) -> bool:
        return False  # the transport closes itself; connection_lost follows

    def pause_writing(self) -> None:
        self.writable = False

    def resume_writing(self) -> None:
        self.writable = not self.close_sent
        if self.on_writable is not None:
            self.on_writable()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.close_code is None:
            self.close_code = WSCloseCode.ABNORMAL_CLOSURE  # no close frame either way
        self.writable = False
        self.transport = None
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.on_writable is not None:
            self.on_writable()  # so that nobody waits for a queue to drain into a closed socket
        self._queue_or_handle(LOST, None, None, 0)

    # Parsed messages.

    def _received(self, message: Any, size: int) -> None:
        kind, data, extra = message
        if kind == _PING:
            if not self._close_received:  # after the peer's close, nothing more is answered
                self.write(pong_frame(data))
        elif kind == _PONG:
            self._pinged = False
        elif self.close_sent and kind == _CLOSE:
            self._close_received = True  # the peer's answer: the closing handshake is complete
            self._close_transport()
        elif not (self.close_sent or self._close_received):
            if kind == _CLOSE:
                self._close_received = True
                self.close_code = data  # the first close frame on the wire is the peer's
            self._queue_or_handle(kind, data, extra, size)

    def _failed(self, error: BaseException) -> None:
        """The peer broke the protocol: close with the code that fits (1002, 1007, 1009)."""
        code = error.code if isinstance(error, WebSocketError) else WSCloseCode.PROTOCOL_ERROR
        self.close(code, str(error))
        self._close_transport()  # the parser reads no more, so no answer would be seen

    def _queue_or_handle(self, kind: int, data: Any, extra: Any, size: int) -> None:
        backlog = self._backlog
        if backlog is None:
            self._handle(kind, data, extra)
            return
        backlog.append((kind, data, extra))
        self._backlog_bytes += size
        transport = self.transport
        if self._backlog_bytes > _BACKLOG_BYTES and transport is not None:
            transport.pause_reading()

    def _handle(self, kind: int, data: Any, extra: Any) -> None:
        """Hand one message to the handler; if it has to wait, hold what follows until it is done."""
        assert self._handler is not None
        work = self._handler(kind, data, extra)
        task = None if work is None else _run(work)  # a task: the handler may use asyncio.timeout
        if task is not None and not task.done():
            self._backlog = deque()
            self._running = task
            task.add_done_callback(self._handled)
            return
        if task is not None:
            self._report_failure(task)
        if kind == LOST:
            self._settle()

    def _handled(self, task: asyncio.Task[None]) -> None:
        self._running = None
        self._report_failure(task)
        if self._backlog is not None and not self._backlog and self.transport is None:
            self._settle()  # that was the last: the handler of LOST
        self._drain_backlog()

    def _settle(self) -> None:
        """Everything the peer sent, and its loss, has been handled: nothing runs for it now."""
        self._settled = True
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    @staticmethod
    def _report_failure(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            asyncio.get_running_loop().call_exception_handler(
                {"message": "websocket handler failed", "exception": task.exception()}
            )

    def _drain_backlog(self) -> None:
        backlog = self._backlog
        self._backlog = None
        self._backlog_bytes = 0
        while backlog:
            self._handle(*backlog.popleft())
            if self._backlog is not None:  # that one waits: the rest wait for it
                self._backlog.extend(backlog)
                return
        if self.transport is not None:
            self.transport.resume_reading()

    # The connection's side.

    def start(self, handler: Handler) -> None:
        """Hand every message, from now on, to ``handler`` (what came already, first)."""
        self._handler = handler
        self._drain_backlog()

    def write(self, frame: bytes) -> None:
        """Put ``frame`` on the socket (nothing, once the close frame was sent)."""
        transport = self.transport
        if transport is not None and not self.close_sent:
            transport.write(frame)

    def close(self, code: int, reason: str = "") -> None:
        """Send the close frame (once); the socket closes when the peer answers, or after
        :data:`CLOSE_TIMEOUT` seconds."""
        transport = self.transport
        if self.close_sent or transport is None:
            return
        transport.write(close_frame(code, reason))
        self.close_sent = True
        self.writable = False
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        if self._close_received:
            self._close_transport()
        else:
            self._close_timer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, self.abort)

    def abort(self, code: int | None = None) -> None:
        """Close the socket now, with no closing handshake (``code``: the one to log)."""
        if self.close_code is None:
            self.close_code = code
        if self.transport is not None:
            self.transport.abort()

    async def wait_closed(self) -> None:
        """Return once the socket is closed and its handler has finished with it."""
        if self._settled:
            return
        if self._lost is None:
            self._lost = asyncio.get_running_loop().create_future()
        await self._lost

    def beat(self) -> None:
        """The heartbeat sweep: drop a peer that left the last ping unanswered, ping a silent one."""
        if self._pinged:
            self.abort(WSCloseCode.ABNORMAL_CLOSURE)
        elif not self._heard:
            self._pinged = True
            self.write(PING_FRAME)
        self._heard = False

    def _close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _run(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """``work`` as a task: started at once where Python can (3.12+), so that one that needs
    no wait is done before this returns, and no loop iteration is spent on it."""
    loop = asyncio.get_running_loop()
    if sys.version_info >= (3, 12):
        return asyncio.Task(work, loop=loop, eager_start=True)  # without loop=: AttributeError
    return loop.create_task(work)
