"""The interface between your code (``app/``) and the machinery (``core/``).

``app/logic.py`` implements :class:`App`; the incoming proxy calls its hooks
and hands them :class:`Client` objects; :class:`ProxyOut` sends to many
clients. These are interfaces: the machinery's own classes stand behind them,
and your code needs nothing else of theirs. The other names are the shapes of
what ``server.create_app`` plugs in: the logic, the authentication, the producer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from aiohttp import web

__all__ = [
    "App",
    "AppFactory",
    "Audience",
    "Authenticate",
    "AuthorizeChannel",
    "Client",
    "Producer",
    "ProxyOut",
]
{%- if cookiecutter.multi_session %}
__all__ += ["Session"]


class Session(Protocol):
    """One browser: every tab it has open shares the session (a cookie keeps it)."""

    @property
    def id(self) -> str:
        """The session's id, for ``out.to_session``: a credential, never to be shown or logged."""

    @property
    def data(self) -> dict[str, Any]:
        """Whatever the app keeps for the session; it lasts as long as the session does."""
{%- endif %}


class Client(Protocol):
    """One connection: one websocket, one tab of a browser."""

    @property
    def id(self) -> str:
        """Unique among the connections of this process."""

    @property
    def user(self) -> str | None:
        """Who authentication said the client is; None for anonymous."""

    @property
    def data(self) -> dict[str, Any]:
        """Whatever the app keeps for this connection; it lasts as long as the connection."""
{%- if cookiecutter.multi_session %}

    @property
    def session(self) -> Session:
        """The session this connection belongs to."""
{%- endif %}

    async def send(self, message: str | bytes) -> None:
        """Send ``message`` to this connection only, not kept for a reconnect; bytes go as a
        binary frame."""


class App(Protocol):
    """The hooks the incoming proxy calls: what your logic implements.

    A logic that also has ``async def on_binary(self, client, data: bytes)`` is
    handed binary messages there; without it, a binary message closes its
    client with 1003 (unsupported data).
    """

    async def on_connect(self, client: Client) -> None:
        """A connection opened."""

    async def on_message(self, client: Client, text: str) -> None:
        """A text message arrived from ``client``."""

    async def on_disconnect(self, client: Client) -> None:
        """A connection closed (told at once)."""
{%- if cookiecutter.multi_session %}

    async def on_session_start(self, session: Session) -> None:
        """A browser's first tab connected (a tab rejoining within the grace is not new)."""

    async def on_session_end(self, session: Session) -> None:
        """A session's last tab closed and ``--session-grace`` ran out."""
{%- endif %}


class ProxyOut(Protocol):
    """Sends text to many clients at once (``client.send`` answers one)."""
{%- if cookiecutter.multi_session %}

    async def to_session(self, session_id: str, text: str) -> None:
        """Send ``text`` to every tab of one session, numbered for resume; an unknown id: nothing."""

    async def subscribe_session(self, session_id: str, channel: str) -> None:
        """Make every tab of a session follow ``channel``: those open, and those it opens later."""

    async def unsubscribe_session(self, session_id: str, channel: str) -> None:
        """Stop every tab of a session following ``channel``."""
{%- endif %}

    async def broadcast(self, text: str, *, exclude: Client | None = None) -> None:
        """Send ``text`` to every client but ``exclude`` (and whatever shares its browser)."""

    async def publish(self, channel: str, text: str) -> None:
        """Send ``text`` to every follower of ``channel``, numbered and kept for their resume."""

    async def subscribe(
        self, client: Client, channel: str, *, since: int | None = None, epoch: str | None = None
    ) -> None:
        """Make ``client`` follow ``channel`` (replaying what it holds after ``since``, if given).

        ``epoch``: the numbering ``since`` belongs to, as the channel's
        ``subscribed`` frame named it; a channel numbered anew since then gets
        the client a ``reset``. Without it, ``since`` is taken on trust.

        Raises ``ValueError`` for a bad channel name or a limit reached.
        """

    async def unsubscribe(self, client: Client, channel: str) -> None:
        """Stop ``client`` following ``channel`` (nothing if it does not)."""


class Audience(Protocol):
    """The clients a producer may wait for before it starts (``--notify-after-clients``)."""

    @property
    def needed(self) -> int:
        """How many connected clients make the audience; 0: nobody is waited for."""

    async def gathered(self) -> None:
        """Return once ``needed`` clients have been connected at the same time (at once if 0)."""


AppFactory = Callable[[ProxyOut], App]  # builds the logic, given the outgoing proxy: Logic
# Decides who a handshake's client is (None: anonymous), or raises an aiohttp HTTP error.
Authenticate = Callable[[web.Request], Awaitable[str | None]]
# Says whether a client may "subscribe" to, or "publish" on, a channel (the action is the 3rd).
AuthorizeChannel = Callable[[Client, str, str], Awaitable[bool]]
# Runs for the server's lifetime (cancelled at shutdown), pushing through the outgoing proxy.
Producer = Callable[[ProxyOut, Audience], Coroutine[Any, Any, None]]
