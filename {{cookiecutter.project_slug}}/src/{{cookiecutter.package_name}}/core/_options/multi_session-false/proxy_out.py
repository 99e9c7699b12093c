"""The outgoing proxy: the one way anything (the logic, a background task) sends to many clients.

:class:`~..api.ProxyOut` is the interface; :class:`LocalProxyOut` delivers to
the connections of this process. Code that sends depends only on the
interface. Sending never waits for a client: each connection queues what it
is sent (see ``connection.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..api import Client
from .connection import Connection

__all__ = ["LocalProxyOut"]


class LocalProxyOut:
    """Delivers to the connections of this process."""

    def __init__(self) -> None:
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
        for connection in self._connections:
            if connection is not exclude:
                connection.write(text)

    def connections(self) -> Iterator[Connection]:
        """Every open connection of this process."""
        return iter(list(self._connections))
