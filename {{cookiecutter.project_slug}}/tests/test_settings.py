"""Settings: defaults, overridden by environment variables, overridden by flags."""

from __future__ import annotations

import pytest

from {{ cookiecutter.package_name }}.settings import (
    ENV_PREFIX,
    Settings,
    parse_settings,
)


def test_defaults() -> None:
    settings = parse_settings([], environ={})
    assert settings == Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == {{ cookiecutter.port }}
    assert settings.notify_interval == 0


def test_environment_overrides_defaults() -> None:
    environ = {ENV_PREFIX + "PORT": "8123", ENV_PREFIX + "NOTIFY_INTERVAL": "3"}
    settings = parse_settings([], environ=environ)
    assert settings.port == 8123
    assert settings.notify_interval == 3.0


def test_flags_override_environment() -> None:
    argv = ["--port", "8124", "--notify-interval", "0.5"]
    settings = parse_settings(argv, environ={ENV_PREFIX + "PORT": "8123"})
    assert settings.port == 8124
    assert settings.notify_interval == 0.5


def test_bad_flag_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(["--port", "not-a-port"], environ={})
    assert exit_info.value.code == 2
    assert "--port" in capsys.readouterr().err
