"""The outgoing proxy: the one way anything (the logic, a background task) sends to many clients.

:class:`~..api.ProxyOut` is the interface; :class:`LocalProxyOut` delivers to
the connections of this process. Code that sends depends only on the
interface. Sending never waits for a client: each connection queues what it
is sent (see ``connection.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..api import Client
from .channels import ChannelOut, ChannelRegistry
from .connection import Connection
from .protocol import encode_message

__all__ = ["LocalProxyOut"]


class LocalProxyOut(ChannelOut):
    """Delivers to the connections (and the channels) of this process."""

    def __init__(self, channels: ChannelRegistry) -> None:
        super().__init__(channels)
        self._connections: set[Connection] = set()

    @property
    def readiness(self) -> str:
        """What ``/readyz`` reports: "ready", or why not (nothing here to wait for)."""
        return "ready"

    @property
    def connection_count(self) -> int:
        return len(self._connections)

    def add(self, connection: Connection) -> None:
        self._connections.add(connection)

    def remove(self, connection: Connection) -> None:
        self._connections.discard(connection)

    async def broadcast(self, text: str, *, exclude: Client | None = None) -> None:
        frame = None  # the protocol's frame, encoded once and only if a connection speaks it
        for connection in self._connections:
            if connection is exclude:
                continue
            if not connection.speaks_protocol:
                connection.write(text)
                continue
            if frame is None:
                frame = encode_message(None, text)
            connection.write(frame)

    def connections(self) -> Iterator[Connection]:
        """Every open connection of this process."""
        return iter(list(self._connections))
