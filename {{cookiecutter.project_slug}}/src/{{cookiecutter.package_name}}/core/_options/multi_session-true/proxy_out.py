"""The outgoing proxy: the one way anything (the logic, a background task) sends to many clients.

:class:`~..api.ProxyOut` is the interface; :class:`LocalProxyOut` delivers to
the sessions of this process. Code that sends depends only on the interface,
so another implementation (a message bus shared by many processes) can take
its place without touching the logic. Sending never waits for a client: each
connection queues what it is sent (see ``connection.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..api import Client
from .channels import ChannelOut, ChannelRegistry, check_channel_name, follow
from .sessions import Session, SessionConnection, SessionRegistry

__all__ = ["LocalProxyOut"]


class LocalProxyOut(ChannelOut):
    """Delivers to the sessions (and the channels) of this process."""

    connection_class = SessionConnection  # what a handshake makes (a bus may need more of it)

    def __init__(self, sessions: SessionRegistry, channels: ChannelRegistry) -> None:
        super().__init__(channels)
        self.sessions = sessions

    @property
    def readiness(self) -> str:
        """What ``/readyz`` reports: "ready", or why not (nothing here to wait for)."""
        return "ready"

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

    async def subscribe_session(self, session_id: str, channel: str) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return
        session.channels |= {check_channel_name(channel)}
        for connection in list(session.connections):
            follow(self.channels, connection, channel)

    async def unsubscribe_session(self, session_id: str, channel: str) -> None:
        session = self.sessions.get(session_id)
        if session is None:
            return
        session.channels -= {channel}
        for connection in list(session.connections):
            await self.unsubscribe(connection, channel)

    def connections(self) -> Iterator[SessionConnection]:
        """Every open connection of this process."""
        for session in self.sessions:
            yield from list(session.connections)

    # What joining a session asks of the session store (a bus shares it between processes).

    async def claim(self, presented: str | None) -> str:
        return self.sessions.claim(presented)

    def position(self, session: Session) -> int:
        """The number after which a new connection of ``session`` is sent messages."""
        return session.last_seq

    async def resume(self, session: Session, connection: SessionConnection, last_seen: int) -> None:
        session.resume(connection, last_seen)
