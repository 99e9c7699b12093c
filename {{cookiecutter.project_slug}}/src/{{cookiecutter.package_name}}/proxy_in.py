"""The incoming proxy: where connections come in.

It does the handshake{% if cookiecutter.multi_session %} (and gives the client its session cookie){% endif %},
runs the receive loop, hands each text message to the business logic, and
cleans up when the connection closes.
"""

from __future__ import annotations

import logging

from aiohttp import WSCloseCode, WSMsgType, web

from .connection import Connection
from .logic import Logic
{%- if cookiecutter.multi_session %}
from .protocol import SUBPROTOCOL, ProtocolError, encode_error, encode_welcome, parse_client_frame
from .sessions import SESSION_COOKIE, Session
from .state import LOGIC, SESSIONS
{%- else %}
from .state import LOGIC, PROXY_OUT
{%- endif %}

__all__ = ["handle_websocket"]

TEXT_ONLY = b"text frames only"

logger = logging.getLogger(__name__)
{%- if cookiecutter.multi_session %}


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    """Accept one websocket, join it to its session and serve it until it closes."""
    sessions = request.app[SESSIONS]
    logic = request.app[LOGIC]
    ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,))
    presented = request.cookies.get(SESSION_COOKIE)
    session_id = sessions.claim(presented)
    if session_id != presented:
        ws.set_cookie(
            SESSION_COOKIE,
            session_id,
            httponly=True,
            samesite="Lax",
            path="/",
            secure=request.secure,
        )
    await ws.prepare(request)

    connection = Connection(ws)
    session, is_new = sessions.join(session_id, connection)
    try:
        if is_new:
            await logic.on_open(session)
        if connection.speaks_protocol:
            await ws.send_str(encode_welcome(session.id))
        await _receive(connection, session, logic)
    finally:
        sessions.leave(session, connection)
    return ws


async def _receive(connection: Connection, session: Session, logic: Logic) -> None:
    async for message in connection.ws:
        if message.type is WSMsgType.TEXT:
            text = message.data
            if connection.speaks_protocol:
                try:
                    text = parse_client_frame(text)
                except ProtocolError as error:
                    await connection.ws.send_str(encode_error(str(error)))
                    continue
            await _dispatch(logic, session, text)
        elif message.type is WSMsgType.BINARY:
            await connection.ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=TEXT_ONLY)


async def _dispatch(logic: Logic, session: Session, text: str) -> None:
    try:
        await logic.on_message(session, text)
    except Exception:
        # One bad message must not end the connection, let alone the server.
        logger.exception("on_message failed for session %s", session.id)
{%- else %}


async def handle_websocket(request: web.Request) -> web.WebSocketResponse:
    """Accept one websocket and serve it until it closes."""
    out = request.app[PROXY_OUT]
    logic = request.app[LOGIC]
    ws = web.WebSocketResponse()
    await ws.prepare(request)

    connection = Connection(ws)
    out.add(connection)
    try:
        await logic.on_open(connection)
        await _receive(connection, logic)
    finally:
        out.remove(connection)
        await logic.on_close(connection)
    return ws


async def _receive(connection: Connection, logic: Logic) -> None:
    async for message in connection.ws:
        if message.type is WSMsgType.TEXT:
            await _dispatch(logic, connection, message.data)
        elif message.type is WSMsgType.BINARY:
            await connection.ws.close(code=WSCloseCode.UNSUPPORTED_DATA, message=TEXT_ONLY)


async def _dispatch(logic: Logic, connection: Connection, text: str) -> None:
    try:
        await logic.on_message(connection, text)
    except Exception:
        # One bad message must not end the connection, let alone the server.
        logger.exception("on_message failed for client %s", connection.id)
{%- endif %}
