"""One open websocket: the client the logic is handed, and its bounded outbound queue.

Senders never wait on a client: :meth:`Connection.write` puts the frame on
the socket at once when it has room (the usual case, and the fast path: see
``frames.py``), else queues it for a writer task that drains the queue at the
pace the client reads and ends when the queue is empty. A client that falls
so far behind that its queue outgrows the limit is dropped with close code
1013 (try again later){% if cookiecutter.multi_session %}; its session can resume from the replay buffer when it
reconnects{% endif %}.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections import deque
from typing import {% if cookiecutter.multi_session %}TYPE_CHECKING, {% endif %}Any

from aiohttp import WSCloseCode, web

{% if cookiecutter.multi_session -%}
from . import protocol
{% endif -%}
from .frames import binary_frame, text_frame
{%- if cookiecutter.multi_session %}

if TYPE_CHECKING:
    from .sessions import Session
{%- endif %}

__all__ = ["Connection"]

_next_id = itertools.count(1)
CLOSE_TIMEOUT = 1.0  # seconds a close handshake may take before the socket is aborted
# The kernel's share of a slow client's backlog. Left alone, Linux grows a socket's send buffer
# to megabytes (tcp_wmem), which would hold the backlog before the queue limit ever sees it.
KERNEL_SEND_BUFFER = 64 * 1024


class Connection:
    """A client's websocket, and the frames queued for it (the logic sees it as ``api.Client``)."""
{%- if cookiecutter.multi_session %}

    session: Session  # set as it joins its session, before the logic sees it
{%- endif %}

    __slots__ = (
        "_closer",
        "_data",
{%- if cookiecutter.scale_out == "redis" %}
        "_held",
{%- endif %}
        "_queue",
        "_queue_limit",
        "_queued_bytes",
{%- if cookiecutter.scale_out == "redis" %}
        "_sent_up_to",
{%- endif %}
        "_transport",
        "_writer",
        "close_code",
        "close_reason",
        "closing",
        "id",
{%- if cookiecutter.multi_session %}
        "session",
        "speaks_protocol",
{%- endif %}
        "user",
        "ws",
    )

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, queue_limit: int) -> None:
        self.ws = ws
        self.id = str(next(_next_id))
{%- if cookiecutter.multi_session %}
        self.speaks_protocol = ws.ws_protocol == protocol.SUBPROTOCOL
{%- endif %}
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
{%- if cookiecutter.scale_out == "redis" %}
        self._held: list[tuple[int | None, str]] | None = None
        self._sent_up_to = 0  # the highest message number sent (or skipped as a gap)
{%- endif %}

    @property
    def data(self) -> dict[str, Any]:
        """What the app keeps for this client (made on first use: most connections need none)."""
        if self._data is None:
            self._data = {}
        return self._data

    async def send(self, message: str | bytes) -> None:
        """Send ``message`` to this client only{% if cookiecutter.multi_session %}: text reaches a protocol client as a ``direct``
        frame; bytes go as a binary frame, as they are{% else %}: bytes as a binary frame{% endif %}."""
{%- if cookiecutter.multi_session %}
        if self.speaks_protocol and isinstance(message, str):
            message = protocol.encode_direct(message)
{%- endif %}
        self.write(message)

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
{%- if cookiecutter.scale_out == "redis" %}

    def write_numbered(self, seq: int | None, frame: str) -> None:
        """Write message number ``seq`` once: held while a replay is fetched, dropped if covered.

        Numbers only grow, so one that is not above the last one sent was
        replayed, or announced as a gap, already. (``None``: sent while Redis
        was away, unnumbered.)
        """
        if self._held is not None:
            self._held.append((seq, frame))
            return
        if seq is not None:
            if seq <= self._sent_up_to:
                return
            self._sent_up_to = seq
        self.write(frame)

    def hold(self) -> None:
        """Hold live messages back while what was missed is fetched (see :meth:`release`)."""
        self._held = []

    def release(self, caught_up_to: int) -> None:
        """Go live after a replay that covered every number up to ``caught_up_to``."""
        held, self._held = self._held or [], None
        self._sent_up_to = max(self._sent_up_to, caught_up_to)
        for seq, frame in held:
            self.write_numbered(seq, frame)
{%- endif %}

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
