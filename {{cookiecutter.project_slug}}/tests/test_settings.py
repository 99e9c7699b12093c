"""Settings: defaults, overridden by environment variables, overridden by flags, all checked."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }}.core.settings import integer, parse, setting
from {{ cookiecutter.package_name }}.settings import (
    ENV_PREFIX,
    Settings,
    parse_settings,
)

NUMBERS = [field for field in dataclasses.fields(Settings) if type(field.default) in (int, float)]
# Values that no numeric setting takes: every one is a count, a size or a duration.
NOT_NUMBERS = ["abc", "", "-1", "1e999999"]
FLOATS = [field.name for field in NUMBERS if type(field.default) is float]
# Values of one setting that its type alone would let through.
OUT_OF_RANGE = [
    ("port", "0"),
    ("port", "70000"),
    ("max_connections", "0"),
    ("max_message_size", "0"),
    ("rate_burst", "0"),
    ("send_queue_bytes", "0"),
{%- if cookiecutter.multi_session %}
    ("max_session_connections", "0"),
{%- endif %}
{%- if cookiecutter.scale_out == "redis" %}
    ("workers", "0"),
    ("redis_log_size", "0"),
    ("redis_url", "http://nope"),
    ("redis_url", "redis://host:port"),
{%- endif %}
    ("log_level", "loud"),
    ("host", " "),
    ("allowed_origins", "https://app.example/path"),
    ("allowed_origins", "app.example"),
    ("require_origin", "maybe"),
]
BAD = (
    [(field.name, value) for field in NUMBERS for value in NOT_NUMBERS]
    + [(name, value) for name in FLOATS for value in ("nan", "inf", "-inf")]
    + OUT_OF_RANGE
)
# A boolean's flag takes no value (--require-origin, --no-require-origin): only its variable does.
BAD_BY_SOURCE = [
    (name, value, source)
    for name, value in BAD
    for source in ("flag", "environment")
    if not (source == "flag" and name == "require_origin")
]


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def env(name: str) -> str:
    return ENV_PREFIX + name.upper()


def test_defaults() -> None:
    settings = parse_settings([], environ={})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == {{ cookiecutter.port }}
    assert settings.notify_interval == 0


def test_environment_overrides_defaults() -> None:
    environ = {env("port"): "8123", env("notify_interval"): "3"}
    settings = parse_settings([], environ=environ)
    assert settings.port == 8123
    assert settings.notify_interval == 3.0


def test_flags_override_environment() -> None:
    argv = ["--port", "8124", "--notify-interval", "0.5"]
    settings = parse_settings(argv, environ={env("port"): "8123"})
    assert settings.port == 8124
    assert settings.notify_interval == 0.5


@pytest.mark.parametrize(("name", "value", "source"), BAD_BY_SOURCE)
def test_a_bad_value_is_one_line_naming_the_flag_and_the_variable(
    capsys: pytest.CaptureFixture[str], name: str, value: str, source: str
) -> None:
    argv, environ = (
        ([f"{flag(name)}={value}"], {}) if source == "flag" else ([], {env(name): value})
    )
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv, environ=environ)
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"{flag(name)} / {env(name)}: {value!r} (from the {source})" in line


@pytest.mark.parametrize(
    ("argv", "environ", "expected"),
    [
        ([], {env("log_level"): "WARNING"}, {"log_level": "warning"}),
        ([], {env("require_origin"): "yes"}, {"require_origin": True}),
        (["--require-origin"], {}, {"require_origin": True}),
        (["--no-require-origin"], {env("require_origin"): "1"}, {"require_origin": False}),
        (
            ["--allowed-origins", "https://app.example, http://localhost:8080"],
            {},
            {"allowed_origins": ("https://app.example", "http://localhost:8080")},
        ),
        ([], {env("heartbeat"): "0"}, {"heartbeat": 0.0}),
        (["--port", "65535"], {env("port"): "abc"}, {"port": 65535}),  # the flag wins unread
{%- if cookiecutter.scale_out == "redis" %}
        (
            [],
            {env("redis_url"): "rediss://:secret@cache.example:6380/1"},
            {"redis_url": "rediss://:secret@cache.example:6380/1"},
        ),
{%- endif %}
    ],
)
def test_good_values_are_taken_in_any_accepted_spelling(
    argv: list[str], environ: dict[str, str], expected: dict[str, object]
) -> None:
    settings = parse_settings(argv, environ=environ)
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.mark.parametrize("argv", [["--no-such-flag"], ["--require-origin=maybe"], ["--port"]])
def test_a_malformed_command_line_is_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv, environ={})
    assert exit_info.value.code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert argv[0].partition("=")[0] in line


def test_help_works_whatever_the_environment_holds() -> None:
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "--help"]
    bad = {env(name): "abc" for name, _ in BAD}
    environ = os.environ | bad
    result = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=30)
    assert result.returncode == 0, result.stderr
    shown = " ".join(result.stdout.split())  # as wrapped to any terminal width
    assert shown.startswith("usage: python -m {{ cookiecutter.package_name }} ")
    assert "--require-origin, --no-require-origin" in shown
    assert "--port N" in shown
    assert f"(env {env('port')}; default: {{ cookiecutter.port }})" in shown


def test_a_field_added_to_the_app_settings_is_a_setting_with_flag_variable_and_check() -> None:
    @dataclasses.dataclass(frozen=True)
    class Extended(Settings):
        greeting: str = setting("hello", "what the app says to each new client")
        retries: int = setting(3, "how often to retry", integer(1, 9))

    assert parse(Extended, [], {}).greeting == "hello"
    assert parse(Extended, ["--greeting", "hi"], {}).greeting == "hi"
    assert parse(Extended, [], {f"{ENV_PREFIX}GREETING": "hey"}).greeting == "hey"
    assert parse(Extended, ["--retries", "5"], {}).retries == 5
    with pytest.raises(SystemExit) as exited:
        parse(Extended, ["--retries", "10"], {})
    assert exited.value.code == 2
