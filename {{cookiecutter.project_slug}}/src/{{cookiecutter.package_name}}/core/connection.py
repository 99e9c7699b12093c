"""One open websocket: the client the logic is handed, and its bounded outbound queue.

Senders never wait on a client: :meth:`Connection.write` puts the frame on
the socket at once when it has room (the usual case, and the fast path: see
``frames.py``), else queues it for a writer task that drains the queue at the
pace the client reads and ends when the queue is empty. A client that falls
so far behind that its queue outgrows the limit is dropped with close code
1013 (try again later).

A client that asked for the protocol (``protocol.py``) has its frames
decoded by :meth:`~Connection.unwrap` and is sent frames; a plain client
sends and gets text as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import WSCloseCode, web

from .frames import binary_frame, text_frame
from .protocol import (
    HEARTBEAT,
    SUBPROTOCOL,
    ClientFrame,
    ProtocolError,
    encode_direct,
    encode_error,
    parse_client_frame,
)

if TYPE_CHECKING:
    from .channels import Channel

__all__ = ["CLOSE_TIMEOUT", "Connection"]

_next_id = itertools.count(1)
CLOSE_TIMEOUT = 1.0  # seconds a close handshake may take before the socket is aborted
# The kernel's share of a slow client's backlog. Left alone, Linux grows a socket's send buffer
# to megabytes (tcp_wmem), which would hold the backlog before the queue limit ever sees it.
KERNEL_SEND_BUFFER = 64 * 1024


class Connection:
    """A client's websocket, and the frames queued for it (the logic sees it as ``api.Client``)."""

    __slots__ = (
        "_bad_frames",
        "_channels",
        "_closer",
        "_data",
        "_max_bad_frames",
        "_queue",
        "_queue_limit",
        "_queued_bytes",
        "_transport",
        "_writer",
        "close_code",
        "close_reason",
        "closing",
        "id",
        "speaks_protocol",
        "user",
        "ws",
    )

    def __init__(
        self,
        request: web.Request,
        ws: web.WebSocketResponse,
        queue_limit: int,
        max_bad_frames: int,
    ) -> None:
        self.ws = ws
        self.id = str(next(_next_id))
        self.speaks_protocol = ws.ws_protocol == SUBPROTOCOL
        self._bad_frames = 0
        self._max_bad_frames = max_bad_frames
        self._channels: set[Channel] | None = None  # made on the first subscription
        self.user: str | None = None  # who authenticate() says the client is; None: anonymous
        self._data: dict[str, Any] | None = None
        self.closing = False
        self.close_code: int | None = None  # the code this server closed with, if it did
        self.close_reason = ""
        # Made when a backlog begins, dropped when it ends.
        self._queue: deque[str | bytes] | None = None
        self._queued_bytes = 0
        self._queue_limit = queue_limit
        self._transport = request.transport
        sock = None if self._transport is None else self._transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, KERNEL_SEND_BUFFER)
        # Drains the queue while it holds frames; None while the socket keeps up.
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    @property
    def data(self) -> dict[str, Any]:
        """What the app keeps for this client (made on first use: most connections need none)."""
        if self._data is None:
            self._data = {}
        return self._data

    def describe(self, peer: str | None) -> str:
        """Who this is, for its log lines (made when logged, not kept per connection)."""
        user = "" if self.user is None else f" user={self.user}"
        return f"conn={self.id} peer={peer}{user}"

    @property
    def channels(self) -> set[Channel]:
        """The channels this connection follows (see ``channels.py``)."""
        if self._channels is None:
            self._channels = set()
        return self._channels

    def followed(self) -> tuple[Channel, ...]:
        """The channels followed, as they are now (cheap when there are none)."""
        return () if self._channels is None else tuple(self._channels)

    def unwrap(self, text: str) -> ClientFrame | None:
        """What a protocol client's frame asks; None for a heartbeat or a bad frame, answered here.

        A bad frame gets an ``error`` frame, and one bad frame more than
        ``--max-protocol-errors`` closes the connection with 1008. (A plain
        client's text is a message for the logic as it is: the incoming proxy
        hands it on without calling this.)
        """
        try:
            frame = parse_client_frame(text)
        except ProtocolError as error:
            self._bad_frames += 1
            if self._bad_frames > self._max_bad_frames:
                self.drop(WSCloseCode.POLICY_VIOLATION, "too many bad frames")
            else:
                self.write(encode_error(str(error)))
            return None
        if frame.type == "heartbeat":
            self.write(HEARTBEAT)
            return None
        return frame

    async def send(self, message: str | bytes) -> None:
        """Send ``message`` to this connection only: text reaches a protocol client as a
        ``direct`` frame (not numbered, not replayed); bytes go as a binary frame."""
        if self.speaks_protocol and isinstance(message, str):
            message = encode_direct(message)
        self.write(message)

    def report(self, error: str, channel: str | None = None) -> None:
        """Tell the client that something it sent was refused (``error`` says why)."""
        self.write(encode_error(error, channel) if self.speaks_protocol else error)

    def deliver(self, seq: int | None, frame: str, channel: str | None = None) -> None:
        """Write the protocol frame of message ``seq`` of ``channel`` (None: of its own stream)."""
        self.write(frame)

    def write(self, frame: str | bytes) -> None:
        """Write ``frame`` without waiting: now if the socket has room, else queued.

        A closing connection drops it.
        """
        if self.closing:
            return
        transport = self._transport
        if self._writer is None and transport is not None and self._has_room(transport):
            transport.write(text_frame(frame) if isinstance(frame, str) else binary_frame(frame))
            return
        self._queued_bytes += len(frame)
        if self._queued_bytes > self._queue_limit:
            self.drop(WSCloseCode.TRY_AGAIN_LATER, "send queue overflow: client reads too slowly")
            return
        if self._queue is None:
            self._queue = deque()
        self._queue.append(frame)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued())

    def _has_room(self, transport: asyncio.Transport) -> bool:
        """Whether a frame may go straight to the socket, ahead of nothing.

        The socket must be open, aiohttp must not have sent its close frame (no
        frame may follow it), and everything written before must have reached
        the kernel: a frame written now cannot overtake a backlog, and one that
        does not fit stays in the transport's buffer, so the next one queues.
        """
        return (
            transport.get_write_buffer_size() == 0
            and not transport.is_closing()
            and not self.ws.closed
        )

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                frame = self._queue.popleft()
                self._queued_bytes -= len(frame)
                if isinstance(frame, str):
                    await self.ws.send_str(frame)
                else:
                    await self.ws.send_bytes(frame)
        except ConnectionResetError:
            pass  # the peer went away; the receive loop sees the close and cleans up
        finally:
            self._writer = None
            self._queue = None
            self._queued_bytes = 0

    async def close(self, code: int, reason: str, flush_timeout: float) -> None:
        """Write what is queued (within ``flush_timeout`` seconds), then close with ``code``."""
        self.close_code = self.close_code or code
        self.close_reason = self.close_reason or reason
        await self._flush_and_close(code, reason, flush_timeout)

    async def answer_close(self, code: int, flush_timeout: float) -> None:
        """The client closed with ``code``: write what is queued for it, then answer in kind.

        What it was sent before it closed still reaches it (within ``flush_timeout``
        seconds); the close line logs the client's code, not this echo.
        """
        if self._writer is not None:
            await self._flush_and_close(code, "", flush_timeout)
            return
        # Nothing queued (the usual case): the answer goes into the socket's buffer and the
        # connection closes, with no wait for the peer, whose close frame is already in.
        self.closing = True
        await self.ws.close(code=code, drain=False)

    async def _flush_and_close(self, code: int, reason: str, flush_timeout: float) -> None:
        self.closing = True
        if self._writer is not None:
            await asyncio.wait((self._writer,), timeout=flush_timeout)
        await self._close_now(code, reason)

    def drop(self, code: int, reason: str) -> None:
        """Close with ``code`` now, discarding what is queued (for a client that cannot keep up)."""
        if self.closing:
            return
        self.closing = True
        self.close_code = code
        self.close_reason = reason
        self._queue = None
        self._queued_bytes = 0
        self._closer = asyncio.create_task(self._close_now(code, reason))

    async def _close_now(self, code: int, reason: str) -> None:
        if self._writer is not None:
            self._writer.cancel()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            # The peer is not reading, so even the close frame cannot get through.
            self._abort()
        except asyncio.CancelledError:
            # A writer stuck on a full socket waits on aiohttp's drain future, which close() shares:
            # cancelling the writer above cancels close() too. The peer is not reading: abort.
            self._abort()
            raise

    def _abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    async def finish(self) -> None:
        """Stop the writer (and a pending close) once the receive loop has ended."""
        self.closing = True
        if self._writer is not None:
            self._writer.cancel()
        for task in (self._writer, self._closer):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
