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


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _parse_bool(value: str) -> bool:
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


_PARSERS: dict[type, Callable[[str], Any]] = {bool: _parse_bool, tuple: _split_list}


def _setting(default: Any, help: str) -> Any:
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """What the server is configured with; see ``--help`` for each field."""

    host: str = _setting("127.0.0.1", "interface to listen on")
    port: int = _setting({{ cookiecutter.port }}, "TCP port to listen on")
    backlog: int = _setting(
        2048,
        "connections the kernel holds for the server until it accepts them (the listen backlog,"
        " capped by net.core.somaxconn); when it is full, a connect waits for a SYN resend (1 s)",
    )
    notify_interval: float = _setting(
        0.0, "seconds between the streaming example's 'notify' broadcasts; 0 turns it off"
    )
    notify_count: int = _setting(0, "stop the streaming example after this many; 0: never")
    notify_size: int = _setting(
        0, "pad each 'notify' message to this many characters (payload size for load tests)"
    )
    notify_after_clients: int = _setting(
        0,
        "the streaming example waits until this many websocket clients are connected to this"
        " process before its first message; 0: it starts at once",
    )
{%- if cookiecutter.multi_session %}
    session_grace: float = _setting(
        60.0, "seconds a session outlives its last connection, so a reconnect can rejoin it"
    )
    replay_size: int = _setting(1000, "messages each session keeps for replay on resume")
    replay_age: float = _setting(60.0, "seconds a message stays replayable")
    max_session_connections: int = _setting(
        16, "open connections one session may hold; over it the upgrade gets HTTP 429"
    )
{%- endif %}
    max_connections: int = _setting(
        10_000, "open connections in all; over it the upgrade gets HTTP 503"
    )
    max_message_size: int = _setting(
        64 * 1024, "largest incoming message in bytes; a larger one closes with 1009"
    )
    rate_limit: float = _setting(
        50.0, "messages per second a connection may send (token bucket); 0 lifts the limit"
    )
    rate_burst: int = _setting(100, "messages a connection may send at once above the rate")
    max_protocol_errors: int = _setting(
        10, "malformed messages a connection may send before it is closed with 1008"
    )
    send_queue_bytes: int = _setting(
        1024 * 1024, "bytes queued for one slow client before it is dropped with 1013"
    )
    heartbeat: float = _setting(
        20.0, "seconds between pings; a peer silent for 2 intervals is dropped; 0 turns it off"
    )
    allowed_origins: tuple[str, ...] = _setting(
        (), "comma-separated origins allowed besides the page's own, e.g. https://app.example"
    )
    require_origin: bool = _setting(
        False, "refuse websocket clients that send no Origin header (non-browsers)"
    )
    shutdown_timeout: float = _setting(
        10.0, "seconds to flush queued messages and close connections on SIGTERM/SIGINT"
    )
    log_level: str = _setting(
        "info", "debug (adds a line per connection opening), info, warning or error"
    )
{%- if cookiecutter.scale_out == "redis" %}
    redis_url: str = _setting(
        "", "Redis shared by all server processes, e.g. redis://127.0.0.1:6379/0; empty: none"
    )
    redis_log_size: int = _setting(
        100_000, "messages (to all sessions) the Redis log keeps for replay on resume"
    )
    workers: int = _setting(1, "server processes sharing the port (SO_REUSEPORT); needs Redis")
{%- endif %}


def _env_name(field: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + field.name.upper()


def _build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.package_name }}",
        description="Serve the page, its script and the WebSocket endpoint.",
    )
    for field in dataclasses.fields(Settings):
        kind = type(field.default)
        parse: Callable[[str], Any] = _PARSERS.get(kind, kind)
        env_name = _env_name(field)
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            type=parse,
            default=parse(environ[env_name]) if env_name in environ else field.default,
            metavar=kind.__name__.upper(),
            help=f"{field.metadata['help']} (env {env_name}, default %(default)s)",
        )
    return parser


def parse_settings(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ
) -> Settings:
    """Build settings from defaults, then ``environ``, then ``argv`` (each overriding the last)."""
    namespace = _build_parser(environ).parse_args(argv)
    return Settings(**vars(namespace))
