"""The machinery's settings, and how any settings class is read from the environment and flags.

Every field of a settings dataclass is a setting. Its default is written in
the class, an environment variable ``{{ cookiecutter.package_name | upper }}_<FIELD>`` overrides it, and
the flag ``--<field>`` overrides both. Every value is checked at start-up,
whichever way it came: a bad one stops the server with one line naming the
flag and the variable, and exit status 2. A field declared with
:func:`setting` gets its variable, its flag and its check (by its type, or the
one given). Your app's own settings are declared the same way, in
``app/settings.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "ENV_PREFIX",
    "LOG_LEVELS",
    "Check",
    "ServerSettings",
    "integer",
    "number",
    "one_of",
    "parse",
    "setting",
    "url",
    "verbatim",
]

ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"
LOG_LEVELS = ("debug", "info", "warning", "error")

S = TypeVar("S", bound="ServerSettings")


@dataclasses.dataclass(frozen=True)
class Check:
    """How a setting's text becomes its value, and the placeholder ``--help`` shows for it.

    ``parse`` raises :class:`ValueError` with what it expected, e.g. "an integer from 1 to 9".
    """

    parse: Callable[[str], Any]
    metavar: str


def integer(minimum: int = 0, maximum: int | None = None, metavar: str = "N") -> Check:
    expected = f"an integer >= {minimum}"
    if maximum is not None:
        expected = f"an integer from {minimum} to {maximum}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError(expected) from None
        if value < minimum or (maximum is not None and value > maximum):
            raise ValueError(expected)
        return value

    return Check(parse, metavar)


def number(minimum: float = 0.0, metavar: str = "SECONDS") -> Check:
    expected = f"a finite number >= {minimum:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(expected) from None
        if not math.isfinite(value) or value < minimum:
            raise ValueError(expected)
        return value

    return Check(parse, metavar)


def one_of(*choices: str) -> Check:
    """One of ``choices``, in any case."""

    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return text.lower()

    return Check(parse, "{" + ",".join(choices) + "}")


def _text(text: str) -> str:
    if not text.strip():
        raise ValueError("a non-empty value")
    return text.strip()


def verbatim(text: str) -> str:
    """Any text, as it is (a secret may have spaces at either end)."""
    return text


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("a boolean: 1, true, yes, on, or 0, false, no, off")


def _origins(text: str) -> tuple[str, ...]:
    origins = tuple(item.strip() for item in text.split(",") if item.strip())
    for origin in origins:
        parts = urlsplit(origin)
        shape = f"{parts.scheme}://{parts.netloc}"
        if parts.scheme not in ("http", "https") or not parts.netloc or origin != shape:
            raise ValueError("comma-separated origins such as https://app.example (no path)")
    return origins


def _networks(text: str) -> tuple[str, ...]:
    networks = tuple(item.strip() for item in text.split(",") if item.strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError("comma-separated addresses or networks, e.g. 10.0.0.0/8") from None
    return networks


def url(*schemes: str) -> Check:
    """A URL with one of ``schemes``, or empty for none."""
    expected = "empty, or a URL of scheme " + ", ".join(f"{scheme}://" for scheme in schemes)

    def parse(text: str) -> str:
        if not text:
            return text
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018  # raises ValueError on a port that is not a number
        except ValueError:
            raise ValueError(expected) from None
        if parts.scheme not in schemes or not (parts.hostname or parts.path):
            raise ValueError(expected)
        return text

    return Check(parse, "URL")


# What a field gets when it names no check: by the type of its default.
_BY_TYPE: dict[type, Check] = {
    bool: Check(_boolean, ""),
    int: integer(),
    float: number(),
    str: Check(_text, "TEXT"),
    tuple: Check(_origins, "ORIGINS"),
}


def setting(default: Any, help: str, check: Check | None = None) -> Any:
    """A settings field: its default, its ``--help`` text, and how its text is checked."""
    check = check or _BY_TYPE[type(default)]
    return dataclasses.field(default=default, metadata={"help": help, "check": check})


@dataclasses.dataclass(frozen=True)
class ServerSettings:
    """What the machinery is configured with (``settings.Settings`` adds your app's)."""

    host: str = setting(
        "127.0.0.1", "interface to listen on; 0.0.0.0 for every one (containers, remote boxes)"
    )
    port: int = setting({{ cookiecutter.port }}, "TCP port to listen on", integer(1, 65535))
    backlog: int = setting(
        2048,
        "connections the kernel holds for the server until it accepts them (the listen backlog,"
        " capped by net.core.somaxconn); when it is full, a connect waits for a SYN resend (1 s)",
        integer(1),
    )
{%- if cookiecutter.multi_session %}
    session_grace: float = setting(
        60.0, "seconds a session outlives its last connection, so a reconnect can rejoin it"
    )
    replay_size: int = setting(1000, "messages each session keeps for replay on resume")
    replay_age: float = setting(60.0, "seconds a message stays replayable")
    max_session_connections: int = setting(
        16, "open connections one session may hold; over it the upgrade gets HTTP 429", integer(1)
    )
{%- endif %}
    channel_history: int = setting(
        1000, "messages each channel keeps, so a client can resume it or read its recent past"
    )
    channel_history_age: float = setting(
        60.0, "seconds a channel message stays replayable, and an unfollowed channel lives"
    )
    max_channels: int = setting(
        10_000, "channels in this process; a subscribe to one more is refused", integer(1)
    )
    max_channels_per_client: int = setting(
        100, "channels one connection may follow; a subscribe over it is refused", integer(1)
    )
    max_channel_subscribers: int = setting(
        10_000,
        "connections of this process one channel may have; over it a subscribe is refused",
        integer(1),
    )
    max_connections: int = setting(
        10_000, "open connections in all; over it the upgrade gets HTTP 503", integer(1)
    )
    max_message_size: int = setting(
        64 * 1024,
        "largest incoming message in bytes; a larger one closes with 1009",
        integer(1, metavar="BYTES"),
    )
    frame_parser: str = setting(
        "aiohttp",
        "what reads websocket frames: aiohttp (its compiled parser, the fastest) or websockets"
        " (its public Sans-I/O protocol, should an aiohttp release break the other)",
        one_of("aiohttp", "websockets"),
    )
    rate_limit: float = setting(
        50.0,
        "messages per second a connection may send (token bucket); 0 lifts the limit",
        number(metavar="PER_SECOND"),
    )
    rate_burst: int = setting(
        100, "messages a connection may send at once above the rate", integer(1)
    )
    max_protocol_errors: int = setting(
        10, "malformed messages a connection may send before it is closed with 1008"
    )
    send_queue_bytes: int = setting(
        1024 * 1024,
        "bytes queued for one slow client before it is dropped with 1013",
        integer(1, metavar="BYTES"),
    )
    heartbeat: float = setting(
        20.0,
        "seconds between pings of silent peers; one that leaves a ping unanswered is dropped;"
        " 0 turns it off",
    )
    allowed_origins: tuple[str, ...] = setting(
        (), "comma-separated origins allowed besides the page's own, e.g. https://app.example"
    )
    require_origin: bool = setting(
        False, "refuse websocket clients that send no Origin header (non-browsers)"
    )
    publish_secret: str = setting(
        "",
        "secret a backend presents (Authorization: Bearer) to POST /channels/<name>; empty: the"
        " route is off. Set it in the environment: a flag shows in the process list",
        Check(verbatim, "SECRET"),
    )
    trusted_proxies: tuple[str, ...] = setting(
        (),
        "comma-separated addresses or networks of reverse proxies whose Forwarded and"
        " X-Forwarded-For/-Proto headers are believed, e.g. 127.0.0.1,10.0.0.0/8",
        Check(_networks, "NETWORKS"),
    )
    shutdown_timeout: float = setting(
        10.0, "seconds to flush what is queued for a client before a close (SIGTERM, or its own)"
    )
    log_level: str = setting(
        "info",
        "debug (adds a line per connection opening), info, warning or error",
        one_of(*LOG_LEVELS),
    )
    reload: bool = setting(
        False, "development: restart the server when a Python file of the package changes"
    )
{%- if cookiecutter.scale_out == "redis" %}
    redis_url: str = setting(
        "",
        "Redis shared by all server processes, e.g. redis://127.0.0.1:6379/0; empty: none",
        url("redis", "rediss", "unix"),
    )
    redis_log_size: int = setting(
        100_000, "messages (to all sessions) the Redis log keeps for replay on resume", integer(1)
    )
    workers: int = setting(
        1, "server processes sharing the port (SO_REUSEPORT); needs Redis", integer(1)
    )
{%- endif %}


def _env_name(field: dataclasses.Field[Any]) -> str:
    return ENV_PREFIX + field.name.upper()


def _flag(field: dataclasses.Field[Any]) -> str:
    return "--" + field.name.replace("_", "-")


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "on" if default else "off"
    if default in ("", ()):
        return "none"
    return str(default)


class _Parser(argparse.ArgumentParser):
    """argparse, with each error on one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _command_name(argv0: str) -> str:
    """What the user typed to start the server, for the usage line."""
    name = os.path.basename(argv0)
    if name in ("__main__.py", ""):
        return "python -m {{ cookiecutter.package_name }}"
    return name


def _build_parser(settings_class: type[ServerSettings]) -> _Parser:
    parser = _Parser(
        prog=_command_name(sys.argv[0]),
        description="Serve the page, its script and the WebSocket endpoint.",
    )
    for field in dataclasses.fields(settings_class):
        check: Check = field.metadata["check"]
        about = (
            f"{field.metadata['help']} (env {_env_name(field)}; default: {_shown(field.default)})"
        )
        about = about.replace("%", "%%")
        if isinstance(field.default, bool):
            parser.add_argument(_flag(field), action=argparse.BooleanOptionalAction, help=about)
        else:
            parser.add_argument(_flag(field), metavar=check.metavar, help=about)
    return parser


def parse(settings_class: type[S], argv: Sequence[str] | None, environ: Mapping[str, str]) -> S:
    """Build ``settings_class`` from defaults, then ``environ``, then ``argv`` (each overriding).

    A value that does not pass its check exits with status 2 and one line naming
    the flag, the variable and what was expected. The environment is read only
    after the flags, so ``--help`` works whatever it holds.
    """
    parser = _build_parser(settings_class)
    given = vars(parser.parse_args(argv))
    values: dict[str, Any] = {}
    for field in dataclasses.fields(settings_class):
        flag, env_name, raw = _flag(field), _env_name(field), given[field.name]
        if raw is None and env_name in environ:
            raw, source = environ[env_name], "the environment"
        elif raw is not None:
            source = "the flag"
        else:
            continue
        if isinstance(raw, bool):  # a flag of a boolean field: argparse has parsed it
            values[field.name] = raw
            continue
        try:
            values[field.name] = field.metadata["check"].parse(raw)
        except ValueError as expected:
            problem = f"{flag} / {env_name}: {raw!r} (from {source}) is not {expected}"
            parser.exit(2, f"{parser.prog}: error: {problem}\n")
    return settings_class(**values)
