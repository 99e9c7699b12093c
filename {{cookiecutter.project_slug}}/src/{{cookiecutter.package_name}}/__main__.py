"""Command line: ``python -m {{ cookiecutter.package_name }} [--host H] [--port P] ...`` starts the server."""

from __future__ import annotations

{% if cookiecutter.scale_out == "redis" -%}
import logging
import sys
from collections.abc import Sequence

from .runner import LOG_FORMAT, run, run_workers
{% else -%}
import logging
from collections.abc import Sequence

from .runner import LOG_FORMAT, run_event_loop, serve
{% endif -%}
from .settings import parse_settings

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    settings = parse_settings(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
{%- if cookiecutter.scale_out == "redis" %}
    if settings.workers > 1:
        if not settings.redis_url:
            sys.exit(
                "error: --workers needs --redis-url: sessions kept in one process's memory"
                " cannot span processes"
            )
        sys.exit(run_workers(settings))
    sys.exit(run(settings))
{%- else %}
    run_event_loop(serve(settings))
{%- endif %}


if __name__ == "__main__":
    main()
