"""The web application: the page at ``/``, its script under ``/scripts/``, the websocket at ``/ws``.

An upgrade request on ``/`` is served as a websocket too, as the seed's
clients connect there.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import WSCloseCode, hdrs, web

from .logic import Logic
from .producer import run_producers
from .proxy_in import handle_websocket
from .proxy_out import LocalProxyOut
{%- if cookiecutter.multi_session %}
from .sessions import SessionRegistry
{%- endif %}
from .settings import Settings
{%- if cookiecutter.multi_session %}
from .state import LOGIC, PROXY_OUT, SESSIONS, SETTINGS
{%- else %}
from .state import LOGIC, PROXY_OUT, SETTINGS
{%- endif %}

__all__ = ["STATIC_DIR", "create_app"]

STATIC_DIR = Path(__file__).parent / "static"


def create_app(settings: Settings) -> web.Application:
    """Build the application, with its state and background tasks wired up."""
    app = web.Application()
    app[SETTINGS] = settings
{%- if cookiecutter.multi_session %}
    # The registry calls on_expire only once the app runs, after `logic` below is bound.
    app[SESSIONS] = sessions = SessionRegistry(
        settings.session_grace, on_expire=lambda session: logic.on_close(session)
    )
    app[PROXY_OUT] = out = LocalProxyOut(sessions)
{%- else %}
    app[PROXY_OUT] = out = LocalProxyOut()
{%- endif %}
{%- if cookiecutter.multi_session %}
    app[LOGIC] = logic = Logic(out)
{%- else %}
    app[LOGIC] = Logic(out)
{%- endif %}

    app.router.add_get("/", index)
    app.router.add_get("/ws", handle_websocket)
    app.router.add_static("/scripts/", STATIC_DIR / "scripts")
    app.cleanup_ctx.append(run_producers)
    app.on_shutdown.append(close_connections)
    return app


async def index(request: web.Request) -> web.StreamResponse:
    """The page, or a websocket for clients that connect to ``/``."""
    if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
        return await handle_websocket(request)
    return web.FileResponse(STATIC_DIR / "index.html")


async def close_connections(app: web.Application) -> None:
    """Tell every client the server is going away (close code 1001)."""
    for connection in app[PROXY_OUT].connections():
        await connection.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")
{%- if cookiecutter.multi_session %}
    await app[SESSIONS].close()
{%- endif %}
