"""Settings of the server: defaults, environment variables and command-line flags.

Every field of :class:`Settings` is a setting. Its default is written here, an
environment variable ``{{ cookiecutter.package_name | upper }}_<FIELD>`` overrides it, and the
flag ``--<field>`` overrides both. Add a field and it gets its variable and flag.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["ENV_PREFIX", "Settings", "parse_settings"]

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"


def _setting(default: Any, help: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """What the server is configured with; see ``--help`` for each field."""

    host: str = _setting("127.0.0.1", "interface to listen on")
    port: int = _setting({{ cookiecutter.port }}, "TCP port to listen on")
    notify_interval: float = _setting(
        0.0, "seconds between the streaming example's 'notify' broadcasts; 0 turns it off"
    )
{%- if cookiecutter.multi_session %}
    session_grace: float = _setting(
        60.0, "seconds a session outlives its last connection, so a reconnect can rejoin it"
    )
{%- endif %}


def _env_name(field: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + field.name.upper()


def _build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.package_name }}",
        description="Serve the page, its script and the WebSocket endpoint.",
    )
    for field in dataclasses.fields(Settings):
        kind: Callable[[str], Any] = type(field.default)
        env_name = _env_name(field)
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=kind,
            default=kind(environ[env_name]) if env_name in environ else field.default,
            help=f"{field.metadata['help']} (env {env_name}, default %(default)s)",
        )
    return parser


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Build settings from defaults, then ``environ``, then ``argv`` (each overriding the last)."""
    namespace = _build_parser(environ).parse_args(argv)
    return Settings(**vars(namespace))
