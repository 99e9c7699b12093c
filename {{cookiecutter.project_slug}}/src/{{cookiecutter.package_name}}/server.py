"""Where the machinery meets your code: :func:`create_app` plugs ``app/`` into ``core/``.

The core knows your code only through the interfaces of ``api.py``; this is
the one module that imports both.
"""

from __future__ import annotations

import functools

from aiohttp import web

from .api import AppFactory, AuthorizeChannel
from .core.routes import build_app
from .settings import Settings

__all__ = ["create_app"]


{% if cookiecutter.scale_out == "redis" -%}
def create_app(
    settings: Settings,
    logic: AppFactory | None = None,
    worker: int = 0,
    *,
    authorize_channel: AuthorizeChannel | None = None,
) -> web.Application:
    """The application: the machinery, with your logic, authentication and producer.

    ``logic`` builds what the hooks are called on: ``app.logic.Logic`` unless a
    test (or another entry point) brings its own; ``authorize_channel`` likewise
    stands in for ``app.auth.authorize_channel``. ``worker`` is the process's
    number among ``--workers``: the producer runs in the first one only, since
    its broadcasts reach every process's clients through Redis.
    """
{%- else -%}
def create_app(
    settings: Settings,
    logic: AppFactory | None = None,
    *,
    authorize_channel: AuthorizeChannel | None = None,
) -> web.Application:
    """The application: the machinery, with your logic, authentication and producer.

    ``logic`` builds what the hooks are called on: ``app.logic.Logic`` unless a
    test (or another entry point) brings its own; ``authorize_channel`` likewise
    stands in for ``app.auth.authorize_channel``.
    """
{%- endif %}
    # Imported when called, not with this module, so that your modules may import
    # any module of the package, this one included, without an import cycle.
    from .app import auth, producer
    from .app.logic import Logic

    streaming = settings.notify_interval > 0
    return build_app(
        settings,
        logic=logic or Logic,
        authenticate=functools.partial(auth.authenticate, settings=settings),
        authorize_channel=authorize_channel or auth.authorize_channel,
{%- if cookiecutter.scale_out == "redis" %}
        producer=functools.partial(producer.run, settings=settings) if worker == 0 else None,
{%- else %}
        producer=functools.partial(producer.run, settings=settings),
{%- endif %}
        audience=settings.notify_after_clients if streaming else 0,
    )
