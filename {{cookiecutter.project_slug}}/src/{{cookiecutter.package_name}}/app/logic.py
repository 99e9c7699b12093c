"""Your logic: what the server does when clients connect, talk and leave. The file to edit.

The incoming proxy calls the hooks below, each with the :class:`~..api.Client`
it is about: one connection. ``client.send`` answers that connection alone;
``self.out`` (a :class:`~..api.ProxyOut`) reaches many: ``broadcast`` everyone,
or everyone but one client, ``publish`` the followers of a channel, which
``subscribe`` and ``unsubscribe`` manage. ``client.data`` holds what the app
keeps per client. To push without being asked, see ``producer.py``.
"""

from __future__ import annotations

import logging

from ..api import Client, ProxyOut{% if cookiecutter.multi_session %}, Session{% endif %}
from .settings import NOTIFICATIONS

__all__ = ["Logic"]

logger = logging.getLogger(__name__)


class Logic:
    """Answers ``ping`` with ``pong`` and anything else with ``ok``, to the client that sent it."""

    def __init__(self, out: ProxyOut) -> None:
        self.out = out

    async def on_connect(self, client: Client) -> None:
        """A connection opened: it follows the streaming example's channel (see producer.py)."""
        logger.debug("connected: %s", client.id)
        await self.out.subscribe(client, NOTIFICATIONS)

    async def on_message(self, client: Client, text: str) -> None:
        """A text message arrived from ``client``."""
        await client.send("pong" if text == "ping" else "ok")

    async def on_disconnect(self, client: Client) -> None:
        """A connection closed."""
        logger.debug("disconnected: %s", client.id)
{%- if cookiecutter.multi_session %}

    # A session is one browser: ``client.session`` is the tab's, its ``data`` what the app keeps
    # per session, and ``self.out.to_session(session.id, text)`` reaches every one of its tabs.

    async def on_session_start(self, session: Session) -> None:
        """A browser's first tab connected (a tab rejoining within the grace is not new)."""

    async def on_session_end(self, session: Session) -> None:
        """A session's last tab closed and the grace period ran out."""
{%- endif %}
