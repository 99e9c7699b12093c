"""What your code sees of the server: a client, {% if cookiecutter.multi_session %}a session, {% endif %}and the hooks it calls.

``logic.py`` implements :class:`App`; the incoming proxy calls its hooks and
hands them :class:`Client` objects. These are interfaces: the machinery's own
classes stand behind them, and your code needs nothing else of theirs.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["App", "Client"{% if cookiecutter.multi_session %}, "Session"{% endif %}]
{%- if cookiecutter.multi_session %}


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
    """One connection{% if cookiecutter.multi_session %} (one tab of a session){% endif %}."""

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
        """Send ``message`` to this connection only{% if cookiecutter.multi_session %} (not numbered, not kept for a resume){% endif %}; bytes
        go as a binary frame."""


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
        """A connection closed (at once{% if cookiecutter.multi_session %}, whatever its session does{% endif %})."""
{%- if cookiecutter.multi_session %}

    async def on_session_start(self, session: Session) -> None:
        """A browser's first tab connected (a tab rejoining within the grace is not new)."""

    async def on_session_end(self, session: Session) -> None:
        """A session's last tab closed and ``--session-grace`` ran out."""
{%- endif %}
