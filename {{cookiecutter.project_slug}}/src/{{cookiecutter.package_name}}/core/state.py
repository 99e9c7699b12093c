"""Typed keys of the application's shared state (``app[KEY]``), its lifecycle and its audience.

The audience is the number of clients a producer waits for before it starts
(the streaming example's ``--notify-after-clients``).
"""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp import web

from ..api import App, Authenticate, AuthorizeChannel
from .members import Members
from .proxies import TrustedProxies
from .proxy_out import LocalProxyOut
from .settings import ServerSettings

__all__ = [
    "AUDIENCE",
    "AUTHENTICATE",
    "AUTHORIZE_CHANNEL",
    "LIFECYCLE",
    "LOGIC",
    "MEMBERS",
    "PROXY_OUT",
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


SETTINGS = web.AppKey("settings", ServerSettings)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
AUDIENCE = web.AppKey("audience", Audience)
PROXY_OUT = web.AppKey("proxy_out", LocalProxyOut)
LOGIC = web.AppKey("logic", App)
AUTHENTICATE: web.AppKey[Authenticate] = web.AppKey("authenticate")
AUTHORIZE_CHANNEL: web.AppKey[AuthorizeChannel] = web.AppKey("authorize_channel")
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
MEMBERS = web.AppKey("members", Members)
