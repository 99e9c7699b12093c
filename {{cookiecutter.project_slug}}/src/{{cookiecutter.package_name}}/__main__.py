"""Command line: ``python -m {{ cookiecutter.package_name }} [--host H] [--port P] [--reload] ...`` starts the server."""

from __future__ import annotations

import functools
import sys
from collections.abc import Sequence

from .api import AppFactory
from .core.reload import run_reloading
from .core.runner import configure_logging, run
from .server import create_app
from .settings import parse_settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, logic: AppFactory | None = None) -> None:
    """Serve as the command line says, with ``logic`` (default: the project's ``Logic``)."""
    settings = parse_settings(argv)
    configure_logging(settings.log_level)
    create = functools.partial(create_app, settings, logic)
{%- if cookiecutter.scale_out == "redis" %}
    if settings.workers > 1:
        from .core.workers import run_workers  # only a multi-process server needs it

        if settings.reload:
            sys.exit("error: --reload runs one server process: leave out --workers")
        if not settings.redis_url:
            sys.exit(
                "error: --workers needs --redis-url: sessions kept in one process's memory"
                " cannot span processes"
            )
        sys.exit(run_workers(settings, create))
{%- endif %}
    if settings.reload:
        sys.exit(run_reloading(settings, create))
    sys.exit(run(settings, create))


if __name__ == "__main__":
    main()
