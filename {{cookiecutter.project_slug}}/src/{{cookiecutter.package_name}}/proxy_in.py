"""The incoming proxy: where connections come in.

It checks the handshake (origin, limits, authentication{% if cookiecutter.multi_session %}, the session cookie{% endif %}),
runs the receive loop, hands each text message to the business logic,
enforces what a client may send, and cleans up when the connection closes. A
client that breaks a rule gets a close code that says which; nobody else
notices.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import WebSocketError, WSCloseCode, WSMessage, WSMsgType, hdrs, web

from .api import App
from .auth import authenticate
from .connection import Connection
from .limits import TokenBucket
from .origin import check_origin
{%- if cookiecutter.multi_session %}
from .protocol import (
    HEARTBEAT,
    SUBPROTOCOL,
    ProtocolError,
    encode_error,
    encode_reset,
    encode_welcome,
    parse_client_frame,
)
from .sessions import SESSION_COOKIE, Session, session_cookie
from .settings import Settings
from .state import AUDIENCE, LIFECYCLE, LOGIC, PROXY_OUT, SESSIONS, SETTINGS, TRUSTED_PROXIES
{%- else %}
from .settings import Settings
from .state import AUDIENCE, LIFECYCLE, LOGIC, PROXY_OUT, SETTINGS, TRUSTED_PROXIES
{%- endif %}

__all__ = ["handle_websocket"]

INTERNAL_ERROR = "internal error: the message was not processed"
BinaryHook = Callable[[Connection, bytes], Awaitable[None]]  # a logic's on_binary, if it has one
NO_STATUS_CODE = 1005  # RFC 6455, 7.4.1: what a close frame without a code stands for
# Codes that stand for conditions and must never be sent in a close frame (RFC 6455, 7.4.1).
RESERVED_CLOSE_CODES = frozenset({NO_STATUS_CODE, WSCloseCode.ABNORMAL_CLOSURE, 1015})

logger = logging.getLogger(__name__)


def _check_capacity(request: web.Request) -> None:
    """Refuse the upgrade, before it happens, when the server cannot take one more connection."""
    if request.app[LIFECYCLE].draining:
        raise web.HTTPServiceUnavailable(text="server is shutting down")
    if request.app[PROXY_OUT].connection_count >= request.app[SETTINGS].max_connections:
        raise web.HTTPServiceUnavailable(text="too many connections")


async def _admit(request: web.Request, settings: Settings) -> str | None:
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
    user = await authenticate(request, settings)
    if not upgrading:
        raise web.HTTPUpgradeRequired(
            text="websocket upgrade required", headers={hdrs.UPGRADE: "websocket"}
        )
    return user


def _count_audience(request: web.Request) -> None:
    """Tell the streaming example, while it waits for its audience, that one more client is in."""
    audience = request.app[AUDIENCE]
    if audience.waiting:
        audience.connected(request.app[PROXY_OUT].connection_count)


def _open_websocket(settings: Settings) -> web.WebSocketResponse:
    return web.WebSocketResponse(
{%- if cookiecutter.multi_session %}
        protocols=(SUBPROTOCOL,),
{%- endif %}
        # aiohttp refuses a message of exactly max_msg_size bytes; the setting allows it.
        max_msg_size=settings.max_message_size + 1,
        heartbeat=settings.heartbeat or None,
        compress=False,
        autoclose=False,  # a client's close is answered once what is queued for it went out
    )
{%- if cookiecutter.multi_session %}


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    """Accept one websocket, join it to its session and serve it until it closes."""
    request = request.app[TRUSTED_PROXIES].resolve(request)
    settings = request.app[SETTINGS]
    sessions = request.app[SESSIONS]
    user = await _admit(request, settings)
    presented = request.cookies.get(SESSION_COOKIE)
{%- if cookiecutter.scale_out == "redis" %}
    out = request.app[PROXY_OUT]
    session_id = await out.claim(presented)
{%- else %}
    session_id = sessions.claim(presented)
{%- endif %}
    minted = session_id != presented
    existing = sessions.get(session_id)
    if existing is not None and len(existing.connections) >= settings.max_session_connections:
        raise web.HTTPTooManyRequests(text="too many connections for this session")

    ws = _open_websocket(settings)
    if minted:
        ws.headers.add(hdrs.SET_COOKIE, session_cookie(session_id, secure=request.secure))
    await ws.prepare(request)

    connection = Connection(request, ws, settings.send_queue_bytes)
    connection.user = user
    session, is_new = sessions.join(session_id, connection)
    if connection.speaks_protocol:
{%- if cookiecutter.scale_out == "redis" %}
        await _welcome(request, connection, session, minted)
{%- else %}
        _welcome(request, connection, session, minted)
{%- endif %}
    _count_audience(request)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("open %s", _describe(request, connection, session))
    logic = request.app[LOGIC]
    try:
        if await _connected(logic, connection, is_new):
            await _receive(connection, logic, settings)
    finally:
        sessions.leave(session, connection)
        await connection.finish()
        _log_close(_describe(request, connection, session), connection)
        await _disconnected(logic, connection)
    return ws
{%- if cookiecutter.scale_out == "redis" %}


async def _welcome(
    request: web.Request, connection: Connection, session: Session, minted: bool
) -> None:
    """Greet a protocol client and replay what it missed, before any live message can overtake."""
    out = request.app[PROXY_OUT]
    position = out.position(session)
{%- else %}


def _welcome(request: web.Request, connection: Connection, session: Session, minted: bool) -> None:
    """Greet a protocol client and replay what it missed, before any live message can overtake."""
    position = session.last_seq
{%- endif %}
    connection.write(encode_welcome(position, request.app[SETTINGS].heartbeat))
    last_seen = request.query.get("last_seq")
    if last_seen is None:
        return
    if minted:
        connection.write(encode_reset("session expired", position))
    elif not last_seen.isdigit():
        connection.write(encode_reset("last_seq must be a non-negative integer", position))
    else:
{%- if cookiecutter.scale_out == "redis" %}
        await out.resume(session, connection, int(last_seen))
{%- else %}
        session.resume(connection, int(last_seen))
{%- endif %}


async def _receive(connection: Connection, logic: App, settings: Settings) -> None:
    """Hand each text message to the logic, until the client closes or breaks a rule."""
    ws = connection.ws
    rate = TokenBucket(settings.rate_limit, settings.rate_burst)
    protocol_errors = 0
    on_binary: BinaryHook | None = getattr(logic, "on_binary", None)
    while True:
        message = await ws.receive()
        if message.type is WSMsgType.TEXT or (message.type is WSMsgType.BINARY and on_binary):
            if not rate.allow():
                await _refuse(connection, WSCloseCode.POLICY_VIOLATION, "rate limit exceeded")
                return
        else:
            await _stop_receiving(connection, message, settings.shutdown_timeout)
            return
        if on_binary is not None and message.type is WSMsgType.BINARY:
            try:
                await on_binary(connection, message.data)
            except Exception:
                _report_failure(connection)
            continue
        text: str = message.data
        if connection.speaks_protocol:
            try:
                frame = parse_client_frame(text)
            except ProtocolError as error:
                protocol_errors += 1
                if protocol_errors > settings.max_protocol_errors:
                    await _refuse(connection, WSCloseCode.POLICY_VIOLATION, "too many bad frames")
                    return
                connection.write(encode_error(str(error)))
                continue
            if frame.type == "heartbeat":
                connection.write(HEARTBEAT)
                continue
            text = frame.data
        try:
            await logic.on_message(connection, text)
        except Exception:
            _report_failure(connection)
{%- else %}


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    """Accept one websocket and serve it until it closes."""
    request = request.app[TRUSTED_PROXIES].resolve(request)
    settings = request.app[SETTINGS]
    out = request.app[PROXY_OUT]
    user = await _admit(request, settings)
    ws = _open_websocket(settings)
    await ws.prepare(request)

    connection = Connection(request, ws, settings.send_queue_bytes)
    connection.user = user
    out.add(connection)
    _count_audience(request)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("open %s", _describe(request, connection))
    logic = request.app[LOGIC]
    try:
        if await _connected(logic, connection):
            await _receive(connection, logic, settings)
    finally:
        out.remove(connection)
        await connection.finish()
        _log_close(_describe(request, connection), connection)
        await _disconnected(logic, connection)
    return ws


async def _receive(connection: Connection, logic: App, settings: Settings) -> None:
    """Hand each text message to the logic, until the client closes or breaks a rule."""
    ws = connection.ws
    rate = TokenBucket(settings.rate_limit, settings.rate_burst)
    on_binary: BinaryHook | None = getattr(logic, "on_binary", None)
    while True:
        message = await ws.receive()
        if message.type is WSMsgType.TEXT or (message.type is WSMsgType.BINARY and on_binary):
            if not rate.allow():
                await _refuse(connection, WSCloseCode.POLICY_VIOLATION, "rate limit exceeded")
                return
        else:
            await _stop_receiving(connection, message, settings.shutdown_timeout)
            return
        try:
            if on_binary is not None and message.type is WSMsgType.BINARY:
                await on_binary(connection, message.data)
            else:
                await logic.on_message(connection, message.data)
        except Exception:
            _report_failure(connection)
{%- endif %}


{% if cookiecutter.multi_session -%}
async def _connected(logic: App, connection: Connection, new_session: bool) -> bool:
    """Tell the logic a client connected (and its session began, if it did).

    If a hook fails, the client is closed with 1011 (internal error): say False.
    """
    try:
        if new_session:
            await logic.on_session_start(connection.session)
        await logic.on_connect(connection)
{%- else -%}
async def _connected(logic: App, connection: Connection) -> bool:
    """Tell the logic a client connected; if that fails, close with 1011 and say False."""
    try:
        await logic.on_connect(connection)
{%- endif %}
    except Exception:
        logger.exception("on_connect failed on conn=%s", connection.id)
        await _refuse(connection, WSCloseCode.INTERNAL_ERROR, "internal error")
        return False
    return True


async def _disconnected(logic: App, connection: Connection) -> None:
    try:
        await logic.on_disconnect(connection)
    except Exception:
        logger.exception("on_disconnect failed on conn=%s", connection.id)


def _report_failure(connection: Connection) -> None:
    """Log the exception the logic raised on a message, and tell the client it was not processed."""
    logger.exception("on_message failed on conn=%s", connection.id)
{%- if cookiecutter.multi_session %}
    connection.write(encode_error(INTERNAL_ERROR) if connection.speaks_protocol else INTERNAL_ERROR)
{%- else %}
    connection.write(INTERNAL_ERROR)
{%- endif %}


{% if cookiecutter.multi_session -%}
def _describe(request: web.Request, connection: Connection, session: Session) -> str:
    """Who a connection is, for its log lines (made when logged, not kept per connection)."""
    protocol = connection.ws.ws_protocol or "plain"
    user = "" if connection.user is None else f" user={connection.user}"
    return (
        f"session={session.tag} conn={connection.id} peer={request.remote}"
        f" protocol={protocol}{user}"
    )
{%- else -%}
def _describe(request: web.Request, connection: Connection) -> str:
    """Who a connection is, for its log lines (made when logged, not kept per connection)."""
    user = "" if connection.user is None else f" user={connection.user}"
    return f"conn={connection.id} peer={request.remote}{user}"
{%- endif %}


def _log_close(described: str, connection: Connection) -> None:
    """One line per connection, when it ends: who it was, and the close code and reason.

    The code is the one on the wire: the first close frame's, whichever side
    sent it (this server: a rule broken, a shutdown; the client: its own
    choice), 1005 for a close frame without one, and 1006 for none at all.
    The opening is logged at DEBUG level only: a line per connection is what a
    busy server can afford.
    """
    code = connection.close_code or connection.ws.close_code
    shown = NO_STATUS_CODE if code == 0 else code  # aiohttp's 0: a close frame without a code
    shown = None if shown is None else int(shown)  # an int: IntEnum prints its name on 3.10
    logger.info("close %s code=%s reason=%r", described, shown, connection.close_reason)


async def _stop_receiving(connection: Connection, message: WSMessage, flush_timeout: float) -> None:
    """End a connection on a message that is not one for the logic.

    A close from the client is answered once what is queued for it went out. A
    binary message, for a logic without ``on_binary``, is refused with 1003. An
    error means aiohttp has already closed with the code that fits (1009 too
    big, 1007 invalid UTF-8, 1002 a protocol error): it is recorded for the log.
    """
    if message.type is WSMsgType.CLOSE:
        if message.data in RESERVED_CLOSE_CODES:
            await _refuse(connection, WSCloseCode.PROTOCOL_ERROR, "reserved close code")
        else:
            await connection.answer_close(message.data or WSCloseCode.OK, flush_timeout)
    elif message.type is WSMsgType.BINARY:
        await _refuse(connection, WSCloseCode.UNSUPPORTED_DATA, "text frames only")
    elif message.type is WSMsgType.ERROR and isinstance(message.data, WebSocketError):
        connection.close_code = message.data.code
        connection.close_reason = str(message.data)


async def _refuse(connection: Connection, code: WSCloseCode, reason: str) -> None:
    connection.close_code = code
    connection.close_reason = reason
    await connection.ws.close(code=code, message=reason.encode())
