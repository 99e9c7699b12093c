"""Sessions: one per browser, kept in a cookie, shared by all of that browser's tabs.

A session holds every open connection of one client, so a reply or a push
reaches each of its tabs. Every message it sends is numbered and kept in a
replay buffer, so a connection that comes back with the last number it saw
gets exactly what it missed (plain clients see no numbers and cannot resume,
so a session keeps history only once a protocol client has joined). A session outlives its last connection by a grace
period, so a reconnect rejoins it; then it is dropped, so the registry does not
grow with churn. A session id is only ever minted here: an id that a client
makes up (unknown, expired or malformed) gets a fresh session, never an error
and never someone else's.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from .connection import Connection
from .protocol import encode_gap, encode_message, encode_reset
from .replay import ReplayBuffer

__all__ = [
    "SESSION_COOKIE",
    "Session",
    "SessionConnection",
    "SessionRegistry",
    "new_session_id",
    "session_cookie",
]

SESSION_COOKIE = "{{ cookiecutter.package_name }}_session"
_ID_BYTES = 16  # 128 bits from the OS's CSPRNG

logger = logging.getLogger(__name__)


def new_session_id() -> str:
    return secrets.token_urlsafe(_ID_BYTES)


def session_cookie(session_id: str, *, secure: bool) -> str:
    """The ``Set-Cookie`` value for a new session: HttpOnly, SameSite=Lax, for the whole site.

    Written out rather than built with ``http.cookies``, whose general machinery
    would run on every handshake: the id is URL-safe base64, so it needs no quoting.
    """
    cookie = f"{SESSION_COOKIE}={session_id}; HttpOnly; Path=/; SameSite=Lax"
    return cookie + "; Secure" if secure else cookie


class SessionConnection(Connection):
    """A connection that belongs to a session (one tab of a browser)."""

    __slots__ = ("session",)

    session: Session  # set as it joins its session, before the logic sees it

    def describe(self, peer: str | None) -> str:
        protocol = self.socket.subprotocol or "plain"
        user = "" if self.user is None else f" user={self.user}"
        return f"session={self.session.tag} conn={self.id} peer={peer} protocol={protocol}{user}"


class Session:
    """One client's open connections, addressed together by the session id."""

    __slots__ = (
        "_data",
        "channels",
        "connections",
        "expiry",
        "history",
        "id",
        "last_seq",
        "started",
    )

    def __init__(self, session_id: str) -> None:
        self.id = session_id
        self._data: dict[str, Any] | None = None
        self.started = False  # whether the logic has been told (on_session_start)
        self.channels: frozenset[str] = frozenset()  # followed by every tab, now and later
        self.connections: set[SessionConnection] = set()
        self.last_seq = 0  # the number of the latest message sent to this session
        # What a resuming connection may have missed; kept once a protocol client has joined.
        self.history: ReplayBuffer | None = None
        # The pending drop, while the session has no connection.
        self.expiry: asyncio.TimerHandle | None = None

    @property
    def tag(self) -> str:
        """A short name for the session in logs: the id is a credential, and a hash of it is not."""
        return hashlib.blake2b(self.id.encode(), digest_size=4).hexdigest()

    @property
    def data(self) -> dict[str, Any]:
        """What the app keeps for the session (made on first use: most sessions need none)."""
        if self._data is None:
            self._data = {}
        return self._data

    def publish(self, text: str) -> None:
        """Number ``text``, keep it for replay, and send it to every connection of the session."""
        self.last_seq += 1
        if self.history is not None:
            self.history.append(self.last_seq, text)
        self.deliver(self.last_seq, text)

    def deliver(self, seq: int | None, text: str) -> None:
        """Send message ``seq`` (None: unnumbered) to every connection of the session."""
        frame = None  # the protocol's frame, encoded once and only if a connection speaks it
        for connection in self.connections:
            if not connection.speaks_protocol:
                connection.write(text)
                continue
            if frame is None:
                frame = encode_message(seq, text)
            connection.deliver(seq, frame)

    def resume(self, connection: SessionConnection, last_seen: int) -> None:
        """Queue for ``connection`` what it missed after ``last_seen``; say so if some is lost."""
        if not 0 <= last_seen <= self.last_seq:
            connection.write(encode_reset("unknown position in this session", self.last_seq))
            return
        missed = [] if self.history is None else self.history.since(last_seen)
        first_held = missed[0][0] if missed else self.last_seq + 1
        if first_held > last_seen + 1:
            connection.write(encode_gap(last_seen + 1, first_held - 1))
        for seq, text in missed:
            connection.write(encode_message(seq, text))


class SessionRegistry:
    """The sessions of this process, by id."""

    def __init__(
        self,
        *,
        grace: float,
        replay_size: int,
        replay_age: float,
        on_expire: Callable[[Session], Awaitable[None]],
    ) -> None:
        self._grace = grace
        self._replay_size = replay_size
        self._replay_age = replay_age
        self._on_expire = on_expire
        self._sessions: dict[str, Session] = {}
        self._notifying: set[asyncio.Task[None]] = set()  # on_expire calls under way
        self.connection_count = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        return iter(self._sessions.values())

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def claim(self, presented: str | None) -> str:
        """Return the id a handshake gets: the presented one if its session is live, else a new one.

        Only ids minted here are ever live, so a malformed or made-up id is never adopted.
        """
        if presented is not None and presented in self._sessions:
            return presented
        return new_session_id()

    def join(self, session_id: str, connection: SessionConnection) -> Session:
        """Add ``connection`` to its session, creating the session if needed."""
        session = self._sessions.get(session_id)
        if session is None:
            session = self._sessions[session_id] = Session(session_id)
        elif session.expiry is not None:
            session.expiry.cancel()
            session.expiry = None
        if connection.speaks_protocol and session.history is None:
            # Plain clients cannot resume: only a protocol client makes history worth keeping.
            session.history = ReplayBuffer(self._replay_size, self._replay_age)
        session.connections.add(connection)
        connection.session = session
        self.connection_count += 1
        return session

    def leave(self, session: Session, connection: SessionConnection) -> None:
        """Remove ``connection``; the session expires after the grace period unless rejoined."""
        session.connections.discard(connection)
        self.connection_count -= 1
        if not session.connections and session.expiry is None:
            loop = asyncio.get_running_loop()
            session.expiry = loop.call_later(self._grace, self._expire, session)

    def _expire(self, session: Session) -> None:
        session.expiry = None
        if self._sessions.get(session.id) is session and not session.connections:
            del self._sessions[session.id]
            notifying = asyncio.create_task(self._notify_expired(session))
            self._notifying.add(notifying)
            notifying.add_done_callback(self._notifying.discard)

    async def _notify_expired(self, session: Session) -> None:
        try:
            await self._on_expire(session)
        except Exception:
            logger.exception("on_session_end failed for session %s", session.tag)

    async def close(self) -> None:
        """Expire every session now (at shutdown)."""
        for session in list(self._sessions.values()):
            if session.expiry is not None:
                session.expiry.cancel()
            del self._sessions[session.id]
            await self._notify_expired(session)
        if self._notifying:
            await asyncio.wait(self._notifying)
