"""Your business logic: what the server does when clients connect, talk and leave.

This is the module to edit. The incoming proxy calls the three hooks below;
everything you send goes out through ``self.out`` (the outgoing proxy),
{%- if cookiecutter.multi_session %}
addressed by session id, so it reaches every tab of that session.
{%- else %}
addressed by client id.
{%- endif %}
To push without being asked, see ``producer.py``.
"""

from __future__ import annotations

import logging

{% if cookiecutter.multi_session -%}
from .proxy_out import ProxyOut
from .sessions import Session
{%- else -%}
from .connection import Connection
from .proxy_out import ProxyOut
{%- endif %}

__all__ = ["Logic"]

logger = logging.getLogger(__name__)


class Logic:
    """The example service: ``ping`` gets ``pong``, anything else gets ``ok``."""

    def __init__(self, out: ProxyOut) -> None:
        self.out = out
{%- if cookiecutter.multi_session %}

    async def on_open(self, session: Session) -> None:
        """A session began: its first connection opened (rejoining within the grace is not new)."""
        logger.debug("session opened: %s", session.tag)

    async def on_message(self, session: Session, text: str) -> None:
        """A text message arrived from one of the session's connections."""
        reply = "pong" if text == "ping" else "ok"
        await self.out.send(session.id, reply)

    async def on_close(self, session: Session) -> None:
        """A session ended: its last connection closed and the grace period ran out."""
        logger.debug("session closed: %s", session.tag)
{%- else %}

    async def on_open(self, client: Connection) -> None:
        """A client connected."""
        logger.debug("client connected: %s", client.id)

    async def on_message(self, client: Connection, text: str) -> None:
        """A text message arrived from a client."""
        reply = "pong" if text == "ping" else "ok"
        await self.out.send(client.id, reply)

    async def on_close(self, client: Connection) -> None:
        """A client disconnected."""
        logger.debug("client disconnected: %s", client.id)
{%- endif %}
