"""Command line: ``python -m {{ cookiecutter.package_name }} [--host H] [--port P] [--reload] ...`` starts the server."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .reload import run_reloading
{% if cookiecutter.scale_out == "redis" -%}
from .runner import configure_logging, run, run_workers
{% else -%}
from .runner import configure_logging, run
{% endif -%}
from .server import AppFactory
from .settings import parse_settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None, logic: AppFactory | None = None) -> None:
    """Serve as the command line says, with ``logic`` (default: the project's ``Logic``)."""
    settings = parse_settings(argv)
    configure_logging(settings.log_level)
    if settings.reload:
{%- if cookiecutter.scale_out == "redis" %}
        if settings.workers > 1:
            sys.exit("error: --reload runs one server process: leave out --workers")
{%- endif %}
        sys.exit(run_reloading(settings))
{%- if cookiecutter.scale_out == "redis" %}
    if settings.workers > 1:
        if not settings.redis_url:
            sys.exit(
                "error: --workers needs --redis-url: sessions kept in one process's memory"
                " cannot span processes"
            )
        sys.exit(run_workers(settings, logic))
{%- endif %}
    sys.exit(run(settings, logic))


if __name__ == "__main__":
    main()
