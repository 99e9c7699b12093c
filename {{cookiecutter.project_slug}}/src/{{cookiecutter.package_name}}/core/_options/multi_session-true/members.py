"""How a connection joins the server: into its browser's session, which a cookie names.

Before the upgrade, :meth:`Members.admit` finds the session the cookie names,
or mints one and sets its cookie, and refuses a browser with too many tabs
open (HTTP 429). After it, :meth:`Members.join` adds the connection to the
session and greets a protocol client, replaying what it missed when it
reconnects with the last number it saw (``?last_seq=N``), before any live
message can overtake. The session store is the outgoing proxy's (``claim``,
``position``, ``resume``): one shared by many processes shares the sessions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from aiohttp import hdrs, web

from ..api import App
from .channels import ChannelRegistry, follow
from .protocol import SUBPROTOCOL, encode_reset, encode_welcome
from .proxy_out import LocalProxyOut
{%- if cookiecutter.scale_out == "redis" %}
from .proxy_out_redis import RedisProxyOut
{%- endif %}
from .sessions import SESSION_COOKIE, SessionConnection, SessionRegistry, session_cookie
from .settings import ServerSettings
from .websocket import WebSocket

__all__ = ["Admission", "MemberConnection", "Members"]

MemberConnection = SessionConnection  # what joining makes of an upgraded websocket


class Admission(NamedTuple):
    """The session a handshake joins, and whether it was minted for it."""

    session_id: str
    minted: bool


class Members:
    """The sessions of this process, and the outgoing proxy that reaches them.

    ``logic`` gives the app's logic, which is built after the proxy it is handed.
    """

    subprotocols = (SUBPROTOCOL,)

    def __init__(
        self, app: web.Application, settings: ServerSettings, logic: Callable[[], App]
    ) -> None:
        self._settings = settings
        self._logic = logic
        self.sessions = SessionRegistry(
            grace=settings.session_grace,
            replay_size=settings.replay_size,
            replay_age=settings.replay_age,
            on_expire=lambda session: logic().on_session_end(session),
        )
        channels = ChannelRegistry.from_settings(settings)
        self.out = LocalProxyOut(self.sessions, channels)
{%- if cookiecutter.scale_out == "redis" %}
        if settings.redis_url:
            self.out = bus = RedisProxyOut(self.sessions, channels, settings)
            app.cleanup_ctx.append(bus.lifespan)  # before the producer, which sends through it
{%- endif %}

    async def admit(self, request: web.Request, headers: dict[str, str]) -> Admission:
        """Find (or mint) the handshake's session (its cookie goes in ``headers``); refuse it if the
        session is full."""
        presented = request.cookies.get(SESSION_COOKIE)
        session_id = await self.out.claim(presented)
        existing = self.sessions.get(session_id)
        limit = self._settings.max_session_connections
        if existing is not None and len(existing.connections) >= limit:
            raise web.HTTPTooManyRequests(text="too many connections for this session")
        minted = session_id != presented
        if minted:
            headers[hdrs.SET_COOKIE] = session_cookie(session_id, secure=request.secure)
        return Admission(session_id, minted)

    async def join(
        self, request: web.Request, socket: WebSocket, admission: Admission
    ) -> SessionConnection:
        """The upgraded websocket as a connection of its session, greeted if it speaks the protocol."""
        settings = self._settings
        connection = self.out.connection_class(
            request, socket, settings.send_queue_bytes, settings.max_protocol_errors
        )
        self.sessions.join(admission.session_id, connection)
        if connection.speaks_protocol:
            await self._welcome(request, connection, admission.minted)
        return connection

    async def _welcome(
        self, request: web.Request, connection: SessionConnection, minted: bool
    ) -> None:
        """Greet a protocol client and replay what it missed, before any live message can overtake."""
        position = self.out.position(connection.session)
        connection.write(encode_welcome(self._settings.heartbeat, position))
        last_seen = request.query.get("last_seq")
        if last_seen is None:
            return
        if minted:
            connection.write(encode_reset("session expired", position))
        elif not last_seen.isdigit():
            connection.write(encode_reset("last_seq must be a non-negative integer", position))
        else:
            await self.out.resume(connection.session, connection, int(last_seen))

    async def opened(self, connection: SessionConnection) -> None:
        """Follow the session's channels; tell the logic if this is the session's first tab."""
        session = connection.session
        for channel in session.channels - {followed.name for followed in connection.followed()}:
            follow(self.out.channels, connection, channel)
        if not session.started:
            session.started = True
            await self._logic().on_session_start(session)

    def leave(self, connection: SessionConnection) -> None:
        self.sessions.leave(connection.session, connection)
        self.out.channels.leave(connection)

    async def close(self) -> None:
        """End every session now (at shutdown)."""
        await self.sessions.close()
