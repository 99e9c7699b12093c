"""How a connection joins the server: as one client among the others.

:meth:`Members.admit` has nothing to check before the upgrade, and
:meth:`Members.join` adds the connection to the outgoing proxy's set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from aiohttp import web

from ..api import App
from .channels import ChannelRegistry
from .connection import Connection
from .protocol import SUBPROTOCOL, encode_welcome
from .proxy_out import LocalProxyOut
from .settings import ServerSettings
from .websocket import WebSocket

__all__ = ["Admission", "MemberConnection", "Members"]

MemberConnection = Connection  # what joining makes of an upgraded websocket


class Admission(NamedTuple):
    """What a handshake carries to its join: nothing, here."""


class Members:
    """The connections of this process, and the outgoing proxy that reaches them."""

    subprotocols = (SUBPROTOCOL,)

    def __init__(
        self, app: web.Application, settings: ServerSettings, logic: Callable[[], App]
    ) -> None:
        self._settings = settings
        self.out = LocalProxyOut(ChannelRegistry.from_settings(settings))

    async def admit(self, request: web.Request, headers: dict[str, str]) -> Admission:
        """Nothing to check before the upgrade."""
        return Admission()

    async def join(
        self, request: web.Request, socket: WebSocket, admission: Admission
    ) -> Connection:
        """The upgraded websocket as a connection, greeted if it speaks the protocol."""
        settings = self._settings
        connection = Connection(
            request, socket, settings.send_queue_bytes, settings.max_protocol_errors
        )
        self.out.add(connection)
        if connection.speaks_protocol:
            connection.write(encode_welcome(settings.heartbeat))
        return connection

    async def opened(self, connection: Connection) -> None:
        """Nothing to tell the logic besides ``on_connect``."""

    def leave(self, connection: Connection) -> None:
        self.out.remove(connection)
        self.out.channels.leave(connection)

    async def close(self) -> None:
        """Nothing outlives its connection."""
