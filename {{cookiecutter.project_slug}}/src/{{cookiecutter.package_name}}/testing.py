"""Test your logic in a few lines: the app served in this process, and clients that talk to it.

::

    from {{ cookiecutter.package_name }}.testing import serving

    async def test_ping_gets_pong() -> None:
        async with serving() as app:
            alice = await app.connect()
            await alice.send("ping")
            assert await alice.receive() == "pong"

``serving(logic)`` serves another logic (a class like ``logic.Logic``), with
``Settings`` of your choice. Each client is a real websocket on 127.0.0.1;
``app.connect()`` opens a new browser (with cookies of its own),
``app.connect(tab_of=alice)`` another tab of ``alice``'s browser (its cookies),
and ``app.out`` sends as a producer does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import ClientSession, ClientWebSocketResponse, CookieJar, WSMsgType, web
from aiohttp.test_utils import TestServer

from .api import AppFactory, ProxyOut
from .core.state import PROXY_OUT
from .server import create_app
from .settings import Settings

__all__ = ["RECEIVE_TIMEOUT", "ServedApp", "TestClientConnection", "serving"]

RECEIVE_TIMEOUT = 5.0  # seconds a receive waits before it fails the test


@dataclass
class TestClientConnection:
    """One client of the served app: send text to it, receive what it is sent."""

    __test__ = False  # not a test class, despite its name

    ws: ClientWebSocketResponse
    browser: ClientSession  # its cookie jar: a browser of its own, or another client's

    async def send(self, text: str) -> None:
        """Send ``text`` to the server, as the page's input does."""
        await self.ws.send_str(text)

    async def receive(self, timeout: float = RECEIVE_TIMEOUT) -> str:
        """The next text message this client is sent."""
        message = await self.ws.receive(timeout=timeout)
        if message.type is not WSMsgType.TEXT:
            raise AssertionError(f"expected a text message, got {message.type.name}")
        text: str = message.data
        return text

    async def assert_receives_nothing(self, within: float = 0.3) -> None:
        """Fail if a message arrives within ``within`` seconds."""
        with contextlib.suppress(asyncio.TimeoutError):
            message = await self.ws.receive(timeout=within)
            raise AssertionError(f"expected nothing, got {message.type.name}: {message.data!r}")

    async def close(self) -> None:
        await self.ws.close()


@dataclass
class ServedApp:
    """The app under test: connect clients to it, or send through its outgoing proxy."""

    app: web.Application
    server: TestServer
    browsers: list[ClientSession] = field(default_factory=list)

    @property
    def out(self) -> ProxyOut:
        return self.app[PROXY_OUT]

    async def connect(self, *, tab_of: TestClientConnection | None = None) -> TestClientConnection:
        """A new client: in a browser of its own, or in the browser of ``tab_of``."""
        browser = tab_of.browser if tab_of is not None else self._new_browser()
        return TestClientConnection(await browser.ws_connect(self.server.make_url("/ws")), browser)

    def _new_browser(self) -> ClientSession:
        browser = ClientSession(cookie_jar=CookieJar(unsafe=True))  # unsafe: cookies for an IP
        self.browsers.append(browser)
        return browser


@contextlib.asynccontextmanager
async def serving(
    logic: AppFactory | None = None, settings: Settings | None = None
) -> AsyncIterator[ServedApp]:
    """Serve the app (with ``logic``, default the project's) for the ``async with`` block."""
    app = create_app(settings or Settings(host="127.0.0.1", port=0), logic)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    served = ServedApp(app, server)
    try:
        yield served
    finally:
        for browser in served.browsers:
            await browser.close()
        await server.close()
