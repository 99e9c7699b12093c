"""The incoming proxy: where connections come in.

It checks the handshake (origin, limits, authentication, then whatever
joining asks: see ``members.py``), runs the receive loop, hands each message
to the business logic, enforces what a client may send, and cleans up when
the connection closes. A client that breaks a rule gets a close code that
says which; nobody else notices.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, hdrs, web

from ..api import App
from .channels import ChannelError, check_channel_name
from .connection import Connection
from .limits import TokenBucket
from .members import MemberConnection
from .origin import check_origin
from .protocol import EPOCH, ClientFrame
from .settings import ServerSettings
from .state import (
    AUDIENCE,
    AUTHENTICATE,
    AUTHORIZE_CHANNEL,
    LIFECYCLE,
    LOGIC,
    MEMBERS,
    PROXY_OUT,
    SETTINGS,
    TRUSTED_PROXIES,
)
from .takeover import unsent_response
from .websocket import LOST, Handled, accept

__all__ = ["Receiver", "handle_websocket"]

INTERNAL_ERROR = "internal error: the message was not processed"
# A logic's on_binary, if it has one.
BinaryHook = Callable[[MemberConnection, bytes], Awaitable[None]]
NO_STATUS_CODE = 1005  # RFC 6455, 7.4.1: what a close frame without a code stands for
# Codes that stand for conditions and must never be sent in a close frame (RFC 6455, 7.4.1).
RESERVED_CLOSE_CODES = frozenset({NO_STATUS_CODE, WSCloseCode.ABNORMAL_CLOSURE, 1015})
TEXT, BINARY = int(WSMsgType.TEXT), int(WSMsgType.BINARY)

logger = logging.getLogger(__name__)


async def handle_websocket(request: web.Request) -> web.StreamResponse:
    """Accept one websocket, let it join, and hand its socket what serves it until it closes."""
    request = request.app[TRUSTED_PROXIES].resolve(request)
    settings = request.app[SETTINGS]
    members = request.app[MEMBERS]
    user = await _admit(request, settings)
    headers: dict[str, str] = {}  # what joining adds to the 101 (a cookie)
    admission = await members.admit(request, headers)
    socket = accept(
        request,
        members.subprotocols,
        headers,
        settings.max_message_size,
        settings.frame_parser,
    )
    try:
        connection = await members.join(request, socket, admission)
    except BaseException:
        socket.abort()
        raise
    connection.user = user
    receiver = Receiver(request.app, connection, request.remote)
    try:
        if connection.speaks_protocol and "since" in request.query:
            await _resume_channels(request, connection)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("open %s", connection.describe(request.remote))
        if await _connected(receiver.logic, connection, members.opened(connection)):
            _count_audience(request)  # once on_connect has run: the channels it follows count
    finally:
        socket.start(receiver)  # from here on, the socket calls the receiver: see websocket.py
    return unsent_response()


def _check_capacity(request: web.Request) -> None:
    """Refuse the upgrade, before it happens, when the server cannot take one more connection."""
    if request.app[LIFECYCLE].draining:
        raise web.HTTPServiceUnavailable(text="server is shutting down")
    if request.app[PROXY_OUT].connection_count >= request.app[SETTINGS].max_connections:
        raise web.HTTPServiceUnavailable(text="too many connections")


async def _admit(request: web.Request, settings: ServerSettings) -> str | None:
    """Run the checks a handshake must pass before anything is upgraded; return the user.

    A refusal is an HTTP error: 403 for a foreign origin, 503 at capacity, 401
    or 403 from authentication. A plain GET of the same URL (no upgrade) runs
    the same checks and gets 426 Upgrade Required when it passes them: that is
    how the page learns why its handshake failed, which browsers hide from
    scripts. A browser sends no ``Origin`` with a plain same-origin GET, so
    that is checked only when sent.
    """
    upgrading = request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"
    if upgrading or hdrs.ORIGIN in request.headers:
        check_origin(request, settings)
    _check_capacity(request)
    user = await request.app[AUTHENTICATE](request)
    if not upgrading:
        raise web.HTTPUpgradeRequired(
            text="websocket upgrade required", headers={hdrs.UPGRADE: "websocket"}
        )
    return user


def _count_audience(request: web.Request) -> None:
    """Tell a producer that waits for its audience that one more client is in."""
    audience = request.app[AUDIENCE]
    if audience.waiting:
        audience.connected(request.app[PROXY_OUT].connection_count)


class Receiver:
    """What a connection's socket hands each message to: the logic, within the client's limits.

    Each call answers one message, at once or with the work still to do (see
    ``websocket.py``): a message for the logic, a channel request, a close.
    The last call says the socket is gone, and the connection is cleaned up.
    """

    __slots__ = ("_app", "_connection", "_on_binary", "_peer", "_rate", "logic")

    def __init__(
        self, app: web.Application, connection: MemberConnection, peer: str | None
    ) -> None:
        settings = app[SETTINGS]
        self._app = app
        self._connection = connection
        self._peer = peer
        self.logic = app[LOGIC]
        self._rate = TokenBucket(settings.rate_limit, settings.rate_burst)
        self._on_binary: BinaryHook | None = getattr(self.logic, "on_binary", None)

    def __call__(self, kind: int, data: Any, extra: Any) -> Handled:
        connection = self._connection
        if kind == TEXT or (kind == BINARY and self._on_binary is not None):
            if not self._rate.allow():
                connection.refuse(WSCloseCode.POLICY_VIOLATION, "rate limit exceeded")
                return None
            if kind == BINARY:
                return self._binary(data)
            if not connection.speaks_protocol:  # the plain exchange: the text is the message
                return self._message(data)
            frame = connection.unwrap(data)
            if frame is None:
                return None
            if frame.type == "message":
                return self._message(frame.data)
            return self._channel_frame(frame)
        if kind == LOST:
            return self._end()
        return self._stop(kind, data)

    async def _message(self, text: str) -> None:
        try:
            await self.logic.on_message(self._connection, text)
        except Exception:
            self._failed()

    async def _binary(self, data: bytes) -> None:
        assert self._on_binary is not None
        try:
            await self._on_binary(self._connection, data)
        except Exception:
            self._failed()

    async def _channel_frame(self, frame: ClientFrame) -> None:
        try:
            await _channel_request(self._app, self._connection, frame)
        except Exception:
            self._failed()

    def _failed(self) -> None:
        logger.exception("on_message failed on conn=%s", self._connection.id)
        self._connection.report(INTERNAL_ERROR)

    def _stop(self, kind: int, code: int) -> Handled:
        """End a connection on a message that is not one for the logic.

        A close from the client is answered once what is queued for it went
        out. A binary message, for a logic without ``on_binary``, is refused
        with 1003. (A frame that breaks the protocol never gets here: the
        socket closes with the code that fits, 1009 too big, 1007 invalid
        UTF-8, 1002 a protocol error.)
        """
        connection = self._connection
        if kind == BINARY:
            connection.refuse(WSCloseCode.UNSUPPORTED_DATA, "text frames only")
        elif code in RESERVED_CLOSE_CODES:
            connection.refuse(WSCloseCode.PROTOCOL_ERROR, "reserved close code")
        else:
            flush_timeout = self._app[SETTINGS].shutdown_timeout
            return connection.answer_close(code or WSCloseCode.OK, flush_timeout)
        return None

    async def _end(self) -> None:
        """The socket is closed: the connection leaves, its line is logged, the logic is told."""
        connection = self._connection
        self._app[MEMBERS].leave(connection)
        connection.finish()
        _log_close(connection.describe(self._peer), connection)
        await _disconnected(self.logic, connection)


async def _channel_request(
    app: web.Application, connection: MemberConnection, frame: ClientFrame
) -> None:
    """Subscribe, unsubscribe or publish as a protocol client asks, if it may.

    A refusal (a bad name, the authorisation hook's no, a limit) is an ``error``
    frame naming the channel; the connection stays open.
    """
    out = app[PROXY_OUT]
    try:
        check_channel_name(frame.channel)
        if frame.type == "unsubscribe":
            await out.unsubscribe(connection, frame.channel)
            return
        if not await app[AUTHORIZE_CHANNEL](connection, frame.channel, frame.type):
            raise ChannelError(f"not allowed to {frame.type}")
        if frame.type == "subscribe":
            await out.subscribe(connection, frame.channel, since=frame.since, epoch=frame.epoch)
        else:
            await out.publish(frame.channel, frame.data)
    except ChannelError as refused:
        connection.report(str(refused), frame.channel)


async def _resume_channels(request: web.Request, connection: MemberConnection) -> None:
    """Follow again the channels a reconnecting client names, from where it left each.

    Each ``since=<channel>:<number>@<epoch>`` query parameter (``@<epoch>``,
    the numbering the ``subscribed`` frame named, may be left out) is a
    subscribe with ``since``, made before anything live can reach the
    connection: each channel goes on exactly after the last message the
    client saw of it.
    """
    for position in request.query.getall("since"):
        channel, _, tail = position.rpartition(":")
        number, at, epoch = tail.partition("@")
        if not (number.isascii() and number.isdigit()) or (at and not EPOCH.fullmatch(epoch)):
            connection.report("since must read <channel>:<number>@<epoch>", channel or position)
            continue
        frame = ClientFrame("subscribe", channel=channel, since=int(number), epoch=epoch or None)
        await _channel_request(request.app, connection, frame)


async def _connected(logic: App, connection: MemberConnection, joined: Awaitable[None]) -> bool:
    """Tell the logic what joining began (``joined``: see ``Members.opened``), then the connect.

    If a hook fails, the client is closed with 1011 (internal error): say False.
    """
    try:
        await joined
        await logic.on_connect(connection)
    except Exception:
        logger.exception("on_connect failed on conn=%s", connection.id)
        connection.refuse(WSCloseCode.INTERNAL_ERROR, "internal error")
        return False
    return True


async def _disconnected(logic: App, connection: MemberConnection) -> None:
    try:
        await logic.on_disconnect(connection)
    except Exception:
        logger.exception("on_disconnect failed on conn=%s", connection.id)


def _log_close(described: str, connection: Connection) -> None:
    """One line per connection, when it ends: who it was, and the close code and reason.

    The code is the one on the wire: the first close frame's, whichever side
    sent it (this server: a rule broken, a shutdown; the client: its own
    choice), 1005 for a close frame without one, and 1006 for none at all.
    The opening is logged at DEBUG level only: a line per connection is what a
    busy server can afford.
    """
    socket = connection.socket
    code = connection.close_code or socket.close_code
    shown = NO_STATUS_CODE if code == 0 else code  # 0: a close frame without a code
    shown = None if shown is None else int(shown)  # an int: IntEnum prints its name on 3.10
    reason = connection.close_reason or socket.close_reason
    logger.info("close %s code=%s reason=%r", described, shown, reason)
