"""One open websocket: the client the logic is handed, and its bounded outbound queue.

Senders never wait on a client: :meth:`Connection.write` puts the frame on
the socket at once when the kernel took everything before it (the usual
case, and the fast path: see ``frames.py``), else queues it; the queue
drains as the socket becomes writable again (``websocket.py`` says when).
A client that falls so far behind that its queue outgrows the limit is
dropped with close code 1013 (try again later).

A client that asked for the protocol (``protocol.py``) has its frames
decoded by :meth:`~Connection.unwrap` and is sent frames; a plain client
sends and gets text as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
from .websocket import CLOSE_TIMEOUT, WebSocket

if TYPE_CHECKING:
    from .channels import Channel

__all__ = ["CLOSE_TIMEOUT", "Connection"]

_next_id = itertools.count(1)


class Connection:
    """A client's websocket, and the frames queued for it (the logic sees it as ``api.Client``)."""

    __slots__ = (
        "_bad_frames",
        "_channels",
        "_data",
        "_drained",
        "_max_bad_frames",
        "_queue",
        "_queue_limit",
        "_queued_bytes",
        "close_code",
        "close_reason",
        "closing",
        "id",
        "socket",
        "speaks_protocol",
        "user",
    )

    def __init__(
        self,
        request: web.Request,
        socket: WebSocket,
        queue_limit: int,
        max_bad_frames: int,
    ) -> None:
        self.socket = socket
        socket.on_writable = self._write_queued
        self.id = str(next(_next_id))
        self.speaks_protocol = socket.subprotocol == SUBPROTOCOL
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
        self._drained: asyncio.Future[None] | None = None  # made by a close that waits for it

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
        """Write ``frame`` without waiting: now if the socket keeps up, else queued.

        A closing connection drops it.
        """
        if self.closing:
            return
        socket = self.socket
        if self._queue is None and socket.writable:
            socket.write(text_frame(frame) if isinstance(frame, str) else binary_frame(frame))
            return
        self._queued_bytes += len(frame)
        if self._queued_bytes > self._queue_limit:
            self.drop(WSCloseCode.TRY_AGAIN_LATER, "send queue overflow: client reads too slowly")
            return
        if self._queue is None:
            self._queue = deque()
        self._queue.append(frame)

    def _write_queued(self) -> None:
        """The socket is writable again (or closed): write what is queued until it is not, or
        none is left."""
        queue = self._queue
        socket = self.socket
        while queue and socket.writable:
            frame = queue.popleft()
            self._queued_bytes -= len(frame)
            socket.write(text_frame(frame) if isinstance(frame, str) else binary_frame(frame))
        if not queue or socket.transport is None:
            self._queue = None
            self._queued_bytes = 0
            if self._drained is not None and not self._drained.done():
                self._drained.set_result(None)

    async def close(self, code: int, reason: str, flush_timeout: float) -> None:
        """Write what is queued (within ``flush_timeout`` seconds), then close with ``code``.

        Returns once the socket is closed.
        """
        self.close_code = self.close_code or code
        self.close_reason = self.close_reason or reason
        await self._flush(flush_timeout)
        self.socket.close(code, reason)
        await self.socket.wait_closed()

    async def answer_close(self, code: int, flush_timeout: float) -> None:
        """The client closed with ``code``: write what is queued for it, then answer in kind.

        What it was sent before it closed still reaches it (within ``flush_timeout``
        seconds); the close line logs the client's code, not this echo. The
        socket closes with the answer: the peer's close frame is already in.
        """
        await self._flush(flush_timeout)
        self.socket.close(code)

    async def _flush(self, timeout: float) -> None:
        self.closing = True
        if self._queue is None:
            return
        self._drained = asyncio.get_running_loop().create_future()
        with contextlib.suppress(asyncio.TimeoutError):  # what is left goes with the connection
            await asyncio.wait_for(asyncio.shield(self._drained), timeout)

    def drop(self, code: int, reason: str) -> None:
        """Close with ``code`` now, discarding what is queued (for a client that cannot keep up)."""
        if self.closing:
            return
        self.refuse(code, reason)

    def refuse(self, code: int, reason: str) -> None:
        """Close with ``code`` now, for a rule broken: what is queued is discarded."""
        self.closing = True
        self.close_code = code
        self.close_reason = reason
        self._queue = None
        self._queued_bytes = 0
        self.socket.close(code, reason)

    def finish(self) -> None:
        """Write nothing more: the socket is closed."""
        self.closing = True
        self._queue = None
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
