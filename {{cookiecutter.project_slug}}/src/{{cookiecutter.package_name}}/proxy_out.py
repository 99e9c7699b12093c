"""The outgoing proxy: the one way anything (the logic, a background task) sends to many clients.

:class:`ProxyOut` is the interface; :class:`LocalProxyOut` delivers to the
connections of this process. Code that sends depends only on the interface,
so another implementation (a message bus shared by many processes) can take
its place without touching the logic. Sending never waits for a client: each
connection queues what it is sent (see ``connection.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .api import Client
from .connection import Connection
{%- if cookiecutter.scale_out == "redis" %}
from .sessions import Session, SessionRegistry
{%- elif cookiecutter.multi_session %}
from .sessions import SessionRegistry
{%- endif %}

__all__ = ["LocalProxyOut", "ProxyOut"]


class ProxyOut(Protocol):
    """Sends text to many clients at once (``client.send`` answers one)."""
{%- if cookiecutter.multi_session %}

    async def to_session(self, session_id: str, text: str) -> None:
        """Send ``text`` to every tab of one session, numbered for resume; an unknown id: nothing."""
{%- endif %}

    async def broadcast(self, text: str, *, exclude: Client | None = None) -> None:
        """Send ``text`` to every client but ``exclude``{% if cookiecutter.multi_session %} (and its session's other tabs){% endif %}."""
{%- if cookiecutter.multi_session %}


class LocalProxyOut:
    """Delivers to the sessions of this process."""

    def __init__(self, sessions: SessionRegistry) -> None:
        self.sessions = sessions

    @property
    def connection_count(self) -> int:
        return self.sessions.connection_count

    async def to_session(self, session_id: str, text: str) -> None:
        session = self.sessions.get(session_id)
        if session is not None:
            session.publish(text)

    async def broadcast(self, text: str, *, exclude: Client | None = None) -> None:
        skipped = None if exclude is None else exclude.session
        for session in self.sessions:
            if session is not skipped:
                session.publish(text)

    def connections(self) -> Iterator[Connection]:
        """Every open connection of this process."""
        for session in self.sessions:
            yield from list(session.connections)
{%- if cookiecutter.scale_out == "redis" %}

    # What the incoming proxy asks of the session store; RedisProxyOut shares it between processes.

    ready = True  # nothing outside this process to wait for

    async def claim(self, presented: str | None) -> str:
        return self.sessions.claim(presented)

    def position(self, session: Session) -> int:
        """The number after which a new connection of ``session`` is sent messages."""
        return session.last_seq

    async def resume(self, session: Session, connection: Connection, last_seen: int) -> None:
        session.resume(connection, last_seen)
{%- endif %}
{%- else %}


class LocalProxyOut:
    """Delivers to the connections of this process."""

    def __init__(self) -> None:
        self._connections: set[Connection] = set()

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
{%- endif %}
