"""Typed keys of the application's shared state (``app[KEY]``), and the server's lifecycle."""

from __future__ import annotations

import dataclasses

from aiohttp import web

from .logic import Logic
from .proxies import TrustedProxies
from .proxy_out import LocalProxyOut
{%- if cookiecutter.multi_session %}
from .sessions import SessionRegistry
{%- endif %}
from .settings import Settings

__all__ = [
    "LIFECYCLE",
    "LOGIC",
    "PROXY_OUT",
{%- if cookiecutter.multi_session %}
    "SESSIONS",
{%- endif %}
    "SETTINGS",
    "TRUSTED_PROXIES",
    "Lifecycle",
]


@dataclasses.dataclass
class Lifecycle:
    """Where the server is in its life: draining means it is shutting down."""

    draining: bool = False


SETTINGS = web.AppKey("settings", Settings)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
PROXY_OUT = web.AppKey("proxy_out", LocalProxyOut)
LOGIC = web.AppKey("logic", Logic)
TRUSTED_PROXIES = web.AppKey("trusted_proxies", TrustedProxies)
{%- if cookiecutter.multi_session %}
SESSIONS = web.AppKey("sessions", SessionRegistry)
{%- endif %}
