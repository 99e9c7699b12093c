"""The origin check that stops cross-site WebSocket hijacking.

Browsers send ``Origin`` with every websocket handshake and cookies ride along,
so without this check any page on the web could open a websocket to this
server in a visitor's name. By default only the page's own origin (the same
host and port the request came to) is let in, plus those listed in
``--allowed-origins``. Clients that send no ``Origin`` are not browsers (CLI
tools, other servers) and are let in unless ``--require-origin`` is set.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import hdrs, web

from .settings import ServerSettings

__all__ = ["check_origin"]


def check_origin(request: web.Request, settings: ServerSettings) -> None:
    """Raise HTTP 403 unless the request's ``Origin`` may open a websocket."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:
        if settings.require_origin:
            raise web.HTTPForbidden(text="an Origin header is required")
        return
    if origin in settings.allowed_origins or _same_host(origin, request):
        return
    raise web.HTTPForbidden(text=f"origin not allowed: {origin}")


def _same_host(origin: str, request: web.Request) -> bool:
    return urlsplit(origin).netloc.lower() == request.host.lower()
