"""The incoming proxy: where connections come in.

It checks the handshake (origin, limits{% if cookiecutter.multi_session %}, the session cookie{% endif %}), runs the
receive loop, hands each text message to the business logic, enforces what a
client may send, and cleans up when the connection closes. A client that
breaks a rule gets a close code that says which; nobody else notices.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable

from aiohttp import WSCloseCode, WSMsgType, web

from .connection import Connection
from .limits import TokenBucket
from .logic import Logic
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
from .sessions import SESSION_COOKIE, Session
from .settings import Settings
from .state import LIFECYCLE, LOGIC, PROXY_OUT, SESSIONS, SETTINGS
{%- else %}
from .settings import Settings
from .state import LIFECYCLE, LOGIC, PROXY_OUT, SETTINGS
{%- endif %}

__all__ = ["handle_websocket"]

INTERNAL_ERROR = "internal error: the message was not processed"

logger = logging.getLogger(__name__)


def _check_capacity(request: web.Request) -> None:
    """Refuse the upgrade, before it happens, when the server cannot take one more connection."""
    if request.app[LIFECYCLE].draining:
        raise web.HTTPServiceUnavailable(text="server is shutting down")
    if request.app[PROXY_OUT].connection_count >= request.app[SETTINGS].max_connections:
        raise web.HTTPServiceUnavailable(text="too many connections")


def _open_websocket(settings: Settings) -> web.WebSocketResponse:
    return web.WebSocketResponse(
{%- if cookiecutter.multi_session %}
        protocols=(SUBPROTOCOL,),
{%- endif %}
        # aiohttp refuses a message of exactly max_msg_size bytes; the setting allows it.
        max_msg_size=settings.max_message_size + 1,
        heartbeat=settings.heartbeat or None,
        compress=False,
    )
{%- if cookiecutter.multi_session %}


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    """Accept one websocket, join it to its session and serve it until it closes."""
    settings = request.app[SETTINGS]
    sessions = request.app[SESSIONS]
    check_origin(request, settings)
    _check_capacity(request)
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
        ws.set_cookie(
            SESSION_COOKIE,
            session_id,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=request.secure,
        )
    await ws.prepare(request)

    connection = Connection(request, ws, settings.send_queue_bytes)
    session, is_new = sessions.join(session_id, connection)
    if connection.speaks_protocol:
{%- if cookiecutter.scale_out == "redis" %}
        await _welcome(request, connection, session, minted)
{%- else %}
        _welcome(request, connection, session, minted)
{%- endif %}
    logger.info(
        "open session=%s conn=%s peer=%s protocol=%s",
        session.id,
        connection.id,
        request.remote,
        ws.ws_protocol or "plain",
    )
    logic = request.app[LOGIC]
    try:
        if is_new:
            await logic.on_open(session)
        await _receive(connection, session, logic, settings)
    finally:
        sessions.leave(session, connection)
        await connection.finish()
        logger.info(
            "close session=%s conn=%s code=%s reason=%r",
            session.id,
            connection.id,
            _close_code(connection),
            connection.close_reason,
        )
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
    connection.send(encode_welcome(session.id, position, request.app[SETTINGS].heartbeat))
    last_seen = request.query.get("last_seq")
    if last_seen is None:
        return
    if minted:
        connection.send(encode_reset("session expired", position))
    elif not last_seen.isdigit():
        connection.send(encode_reset("last_seq must be a non-negative integer", position))
    else:
{%- if cookiecutter.scale_out == "redis" %}
        await out.resume(session, connection, int(last_seen))
{%- else %}
        session.resume(connection, int(last_seen))
{%- endif %}


async def _receive(
    connection: Connection, session: Session, logic: Logic, settings: Settings
) -> None:
    protocol_errors = 0
    async for text in _texts(connection, settings):
        if connection.speaks_protocol:
            try:
                frame = parse_client_frame(text)
            except ProtocolError as error:
                protocol_errors += 1
                if protocol_errors > settings.max_protocol_errors:
                    await _refuse(connection, WSCloseCode.POLICY_VIOLATION, "too many bad frames")
                    return
                connection.send(encode_error(str(error)))
                continue
            if frame.type == "heartbeat":
                connection.send(HEARTBEAT)
                continue
            text = frame.data
        await _dispatch(logic.on_message(session, text), connection)
{%- else %}


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    """Accept one websocket and serve it until it closes."""
    settings = request.app[SETTINGS]
    out = request.app[PROXY_OUT]
    check_origin(request, settings)
    _check_capacity(request)
    ws = _open_websocket(settings)
    await ws.prepare(request)

    connection = Connection(request, ws, settings.send_queue_bytes)
    out.add(connection)
    logger.info("open conn=%s peer=%s", connection.id, request.remote)
    logic = request.app[LOGIC]
    try:
        await logic.on_open(connection)
        await _receive(connection, logic, settings)
    finally:
        out.remove(connection)
        await connection.finish()
        logger.info(
            "close conn=%s code=%s reason=%r",
            connection.id,
            _close_code(connection),
            connection.close_reason,
        )
        await logic.on_close(connection)
    return ws


async def _receive(connection: Connection, logic: Logic, settings: Settings) -> None:
    async for text in _texts(connection, settings):
        await _dispatch(logic.on_message(connection, text), connection)
{%- endif %}


async def _texts(connection: Connection, settings: Settings) -> AsyncIterator[str]:
    """The client's text messages, until it closes or breaks a rule (and is closed for it)."""
    rate = TokenBucket(settings.rate_limit, settings.rate_burst)
    async for message in connection.ws:
        if message.type is not WSMsgType.TEXT:
            await _refuse_non_text(connection, message.type)
            return
        if not rate.allow():
            await _refuse(connection, WSCloseCode.POLICY_VIOLATION, "rate limit exceeded")
            return
        yield message.data


async def _dispatch(handling: Awaitable[None], connection: Connection) -> None:
    """Run the logic's handling of one message; an exception in it is this message's alone."""
    try:
        await handling
    except Exception:
        logger.exception("on_message failed on conn=%s", connection.id)
{%- if cookiecutter.multi_session %}
        connection.send(
            encode_error(INTERNAL_ERROR) if connection.speaks_protocol else INTERNAL_ERROR
        )
{%- else %}
        connection.send(INTERNAL_ERROR)
{%- endif %}


def _close_code(connection: Connection) -> int | None:
    """The code this server closed with, else what aiohttp saw (the client's code, or 1006)."""
    code = connection.close_code or connection.ws.close_code
    return None if code is None else int(code)  # an int: IntEnum prints its name on 3.10


async def _refuse_non_text(connection: Connection, kind: WSMsgType) -> None:
    # `async for` ends at a close; what else is not text is binary, or an ERROR after which
    # aiohttp has already closed with the code that fits (1009 too big, 1007 invalid UTF-8).
    if kind is WSMsgType.BINARY:
        await _refuse(connection, WSCloseCode.UNSUPPORTED_DATA, "text frames only")


async def _refuse(connection: Connection, code: WSCloseCode, reason: str) -> None:
    connection.close_code = code
    connection.close_reason = reason
    await connection.ws.close(code=code, message=reason.encode())
