"""Command line: ``python -m {{ cookiecutter.package_name }} [--host H] [--port P] [--reload] ...`` starts the server."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .reload import run_reloading
{% if cookiecutter.scale_out == "redis" -%}
from .runner import configure_logging, run, run_workers
{% else -%}
from .runner import configure_logging, run_event_loop, serve
{% endif -%}
from .settings import parse_settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    try:
        configure_logging(settings.log_level)
    except ValueError as error:
        sys.exit(f"error: {error}")
{%- if cookiecutter.scale_out == "redis" %}
    if settings.reload:
        if settings.workers > 1:
            sys.exit("error: --reload runs one server process: leave out --workers")
        sys.exit(run_reloading(settings))
    if settings.workers > 1:
        if not settings.redis_url:
            sys.exit(
                "error: --workers needs --redis-url: sessions kept in one process's memory"
                " cannot span processes"
            )
        sys.exit(run_workers(settings))
    sys.exit(run(settings))
{%- else %}
    if settings.reload:
        sys.exit(run_reloading(settings))
    run_event_loop(serve(settings))
{%- endif %}


if __name__ == "__main__":
    main()
