"""Typed keys of the application's shared state (``app[KEY]``), its lifecycle and its audience.

The audience is the number of clients the streaming example waits for before
its first message (``--notify-after-clients``).
"""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp import web

from .api import App
from .proxies import TrustedProxies
from .proxy_out import LocalProxyOut
{%- if cookiecutter.multi_session %}
from .sessions import SessionRegistry
{%- endif %}
from .settings import Settings

__all__ = [
    "AUDIENCE",
    "LIFECYCLE",
    "LOGIC",
    "PROXY_OUT",
{%- if cookiecutter.multi_session %}
    "SESSIONS",
{%- endif %}
    "SETTINGS",
    "TRUSTED_PROXIES",
    "Audience",
    "Lifecycle",
]


@dataclasses.dataclass
class Lifecycle:
    """Where the server is in its life: draining means it is shutting down."""

    draining: bool = False


class Audience:
    """Whether as many clients as the streaming example waits for are connected to this process.

    The incoming proxy reports the number of open connections after each
    connect, but only while :attr:`waiting` is true: once the audience has
    gathered, and always when nobody is waited for (``needed`` 0), a connect
    costs it one attribute read. The producer awaits :meth:`gathered`.
    """

    __slots__ = ("_gathered", "needed", "waiting")

    def __init__(self, needed: int) -> None:
        self.needed = needed
        self.waiting = needed > 0
        self._gathered = asyncio.Event()

    def connected(self, connection_count: int) -> None:
        """A client connected; ``connection_count`` are open now, this one included."""
        if connection_count >= self.needed:
            self.waiting = False
            self._gathered.set()

    async def gathered(self) -> None:
        """Return once ``needed`` clients have been connected at the same time (at once if 0)."""
        if self.waiting:
            await self._gathered.wait()


SETTINGS = web.AppKey("settings", Settings)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
AUDIENCE = web.AppKey("audience", Audience)
PROXY_OUT = web.AppKey("proxy_out", LocalProxyOut)
LOGIC = web.AppKey("logic", App)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
{%- if cookiecutter.multi_session %}
SESSIONS = web.AppKey("sessions", SessionRegistry)
{%- endif %}
