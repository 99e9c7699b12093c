"""The web application: the page at ``/``, its script under ``/scripts/``, the websocket at ``/ws``.

An upgrade request on ``/`` is served as a websocket too, so that a client
given the bare address (``ws://host:port/``) connects as well. ``/healthz`` says the process is alive, ``/readyz``
whether it takes new connections (not while draining at shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from aiohttp import WSCloseCode, hdrs, web

from .api import App
from .connection import CLOSE_TIMEOUT
from .logic import Logic
from .producer import run_producers
from .proxies import TrustedProxies
from .proxy_in import handle_websocket
from .proxy_out import LocalProxyOut, ProxyOut
{%- if cookiecutter.scale_out == "redis" %}
from .proxy_out_redis import RedisProxyOut
{%- endif %}
{%- if cookiecutter.multi_session %}
from .sessions import SessionRegistry
{%- endif %}
from .settings import Settings
{%- if cookiecutter.multi_session %}
from .state import (
    AUDIENCE,
    LIFECYCLE,
    LOGIC,
    PROXY_OUT,
    SESSIONS,
    SETTINGS,
    TRUSTED_PROXIES,
    Audience,
    Lifecycle,
)
{%- else %}
from .state import (
    AUDIENCE,
    LIFECYCLE,
    LOGIC,
    PROXY_OUT,
    SETTINGS,
    TRUSTED_PROXIES,
    Audience,
    Lifecycle,
)
{%- endif %}

__all__ = ["STATIC_DIR", "AppFactory", "create_app", "drain"]

STATIC_DIR = Path(__file__).parent / "static"
AppFactory = Callable[[ProxyOut], App]  # builds the logic, given the outgoing proxy: Logic


def create_app(settings: Settings, logic: AppFactory | None = None) -> web.Application:
    """Build the application, with its state and background tasks wired up.

    ``logic`` builds what the hooks are called on: the project's ``Logic`` unless
    a test (or another entry point) brings its own. This is the one place where
    the machinery meets your code.
    """
    app = web.Application()
    app[SETTINGS] = settings
    app[LIFECYCLE] = Lifecycle()
    app[TRUSTED_PROXIES] = TrustedProxies(settings.trusted_proxies)
    # Only a streaming example that runs waits for its audience; else connects need not count.
    streaming = settings.notify_interval > 0
    app[AUDIENCE] = Audience(settings.notify_after_clients if streaming else 0)
{%- if cookiecutter.multi_session %}
    # The registry calls on_expire only once the app runs, after the logic below is set.
    app[SESSIONS] = sessions = SessionRegistry(
        grace=settings.session_grace,
        replay_size=settings.replay_size,
        replay_age=settings.replay_age,
        on_expire=lambda session: app[LOGIC].on_session_end(session),
    )
{%- if cookiecutter.scale_out == "redis" %}
    out: LocalProxyOut
    if settings.redis_url:
        bus = RedisProxyOut(sessions, settings)
        app.cleanup_ctx.append(bus.lifespan)  # before the producers, which send through it
        out = bus
    else:
        out = LocalProxyOut(sessions)
    app[PROXY_OUT] = out
{%- else %}
    app[PROXY_OUT] = out = LocalProxyOut(sessions)
{%- endif %}
{%- else %}
    app[PROXY_OUT] = out = LocalProxyOut()
{%- endif %}
    app[LOGIC] = (logic or Logic)(out)

    app.router.add_get("/", index)
    app.router.add_get("/ws", handle_websocket)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_static("/scripts/", STATIC_DIR / "scripts")
    app.cleanup_ctx.append(run_producers)
    app.on_shutdown.append(drain)
    return app


async def index(request: web.Request) -> web.StreamResponse:
    """The page, or a websocket for clients that connect to ``/``."""
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        return await handle_websocket(request)
    return web.FileResponse(STATIC_DIR / "index.html")


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the event loop answers."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
{%- if cookiecutter.scale_out == "redis" %}
    """Readiness: 200 while new connections are welcome, 503 while draining or without Redis."""
    if request.app[LIFECYCLE].draining:
        return web.json_response({"status": "draining"}, status=503)
    if not request.app[PROXY_OUT].ready:
        return web.json_response({"status": "redis unreachable"}, status=503)
{%- else %}
    """Readiness: 200 while new connections are welcome, 503 while draining."""
    if request.app[LIFECYCLE].draining:
        return web.json_response({"status": "draining"}, status=503)
{%- endif %}
    return web.json_response({"status": "ready"})


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
{%- if cookiecutter.multi_session %}
    await app[SESSIONS].close()
{%- endif %}
