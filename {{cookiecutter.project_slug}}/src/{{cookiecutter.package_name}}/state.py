"""Typed keys of the application's shared state (``app[KEY]``)."""

from __future__ import annotations

from aiohttp import web

from .logic import Logic
from .proxy_out import LocalProxyOut
{%- if cookiecutter.multi_session %}
from .sessions import SessionRegistry
{%- endif %}
from .settings import Settings

__all__ = ["LOGIC", "PROXY_OUT", {% if cookiecutter.multi_session %}"SESSIONS", {% endif %}"SETTINGS"]

SETTINGS = web.AppKey("settings", Settings)
PROXY_OUT = web.AppKey("proxy_out", LocalProxyOut)
LOGIC = web.AppKey("logic", Logic)
{%- if cookiecutter.multi_session %}
SESSIONS = web.AppKey("sessions", SessionRegistry)
{%- endif %}
