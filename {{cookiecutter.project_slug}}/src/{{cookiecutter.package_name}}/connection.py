"""One open websocket, as the outgoing proxy sees it: something to send text to."""

from __future__ import annotations

import contextlib
{%- if not cookiecutter.multi_session %}
import itertools
{%- endif %}

from aiohttp import web
{%- if cookiecutter.multi_session %}

from . import protocol
{%- endif %}

__all__ = ["Connection"]
{%- if not cookiecutter.multi_session %}

_next_id = itertools.count(1)
{%- endif %}


class Connection:
    """A client's websocket, with the framing it asked for at the handshake."""

    __slots__ = ({% if cookiecutter.multi_session %}"speaks_protocol", {% else %}"id", {% endif %}"ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
{%- if cookiecutter.multi_session %}
        self.speaks_protocol = ws.ws_protocol == protocol.SUBPROTOCOL
{%- else %}
        self.id = str(next(_next_id))
{%- endif %}

    async def send(self, text: str) -> None:
        """Send ``text`` to this client; a connection that is closing drops it quietly."""
        if self.ws.closed:
            return
        # A peer that went away mid-send is cleaned up by its receive loop, which sees the close.
        with contextlib.suppress(ConnectionResetError):
{%- if cookiecutter.multi_session %}
            await self.ws.send_str(protocol.encode_message(text) if self.speaks_protocol else text)
{%- else %}
            await self.ws.send_str(text)
{%- endif %}
