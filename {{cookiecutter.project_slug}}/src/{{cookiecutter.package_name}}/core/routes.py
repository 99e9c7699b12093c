"""The web application: the page at ``/``, its script under ``/scripts/``, the websocket at ``/ws``,
and, with ``--publish-secret``, ``POST /channels/{name}`` (see ``publishing.py``).

:func:`build_app` assembles it from the machinery and what ``server.create_app``
plugs in (the logic, the authentication, the producer).

An upgrade request on ``/`` is served as a websocket too, so that a client
given the bare address (``ws://host:port/``) connects as well. ``/healthz`` says the process is alive, ``/readyz``
whether it takes new connections (not while draining at shutdown).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import WSCloseCode, hdrs, web

from ..api import AppFactory, Authenticate, AuthorizeChannel, Producer
from .members import Members
from .proxies import TrustedProxies
from .proxy_in import handle_websocket
from .publishing import PUBLISH_ROUTE, publish
from .settings import ServerSettings
from .state import (
    AUDIENCE,
    AUTHENTICATE,
    AUTHORIZE_CHANNEL,
    LIFECYCLE,
    LOGIC,
    MEMBERS,
    PROXY_OUT,
    SETTINGS,
    TRUSTED_PROXIES,
    Audience,
    Lifecycle,
)
from .websocket import CLOSE_TIMEOUT

__all__ = ["STATIC_DIR", "build_app", "drain"]

STATIC_DIR = Path(__file__).parent.parent / "static"


def build_app(
    settings: ServerSettings,
    *,
    logic: AppFactory,
    authenticate: Authenticate,
    authorize_channel: AuthorizeChannel,
    producer: Producer | None,
    audience: int,
) -> web.Application:
    """Build the application, with its state and background tasks wired up.

    ``logic`` builds what the hooks are called on, ``authenticate`` vets each
    handshake, ``authorize_channel`` each channel request of a client,
    ``producer`` (if any) runs for the application's lifetime, after
    ``audience`` clients have connected.
    """
    app = web.Application()
    app[SETTINGS] = settings
    app[LIFECYCLE] = Lifecycle()
    app[TRUSTED_PROXIES] = TrustedProxies(settings.trusted_proxies)
    app[AUTHENTICATE] = authenticate
    app[AUTHORIZE_CHANNEL] = authorize_channel
    # Connects are counted only while a producer waits for its audience.
    app[AUDIENCE] = Audience(audience if producer is not None else 0)
    # Joining and the outgoing proxy call the logic only once the app runs, after it is built.
    app[MEMBERS] = members = Members(app, settings, lambda: app[LOGIC])
    app[PROXY_OUT] = out = members.out
    app[LOGIC] = logic(out)

    app.router.add_get("/", index)
    app.router.add_get("/ws", handle_websocket)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_static("/scripts/", STATIC_DIR / "scripts")
    if settings.publish_secret:
        app.router.add_post(PUBLISH_ROUTE, publish)
    if settings.heartbeat:
        app.cleanup_ctx.append(_sweep_heartbeats)
    if producer is not None:
        app.cleanup_ctx.append(functools.partial(_run_producer, producer))
    app.on_shutdown.append(drain)
    return app


async def _run_producer(producer: Producer, app: web.Application) -> AsyncIterator[None]:
    """Run ``producer`` for the application's lifetime (an aiohttp cleanup context)."""
    task = asyncio.create_task(producer(app[PROXY_OUT], app[AUDIENCE]))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _sweep_heartbeats(app: web.Application) -> AsyncIterator[None]:
    """Every ``--heartbeat`` seconds, ping the silent connections and drop the unanswering ones.

    One task for every connection, not a timer each (see ``WebSocket.beat``).
    """
    task = asyncio.create_task(_beat(app, app[SETTINGS].heartbeat))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _beat(app: web.Application, interval: float) -> None:
    out = app[PROXY_OUT]
    while True:
        await asyncio.sleep(interval)
        for connection in out.connections():
            connection.socket.beat()


async def index(request: web.Request) -> web.StreamResponse:
    """The page, or a websocket for clients that connect to ``/``."""
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        return await handle_websocket(request)
    return web.FileResponse(STATIC_DIR / "index.html")


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: 200 while new connections are welcome; 503 while draining, or not ready."""
    if request.app[LIFECYCLE].draining:
        return web.json_response({"status": "draining"}, status=503)
    readiness = request.app[PROXY_OUT].readiness
    return web.json_response({"status": readiness}, status=200 if readiness == "ready" else 503)


async def drain(app: web.Application) -> None:
    """Refuse new websockets; flush and close every open one with 1001 (going away).

    Runs on SIGTERM/SIGINT before the listener closes, and again (a no-op by
    then) as the application's shutdown hook. It takes at most about
    ``--shutdown-timeout`` seconds.
    """
    app[LIFECYCLE].draining = True
    timeout = app[SETTINGS].shutdown_timeout
    closing = [
        asyncio.create_task(connection.close(WSCloseCode.GOING_AWAY, "server shutdown", timeout))
        for connection in app[PROXY_OUT].connections()
    ]
    if closing:
        await asyncio.wait(closing, timeout=timeout + CLOSE_TIMEOUT)
    await app[MEMBERS].close()
