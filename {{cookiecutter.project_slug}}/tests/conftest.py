"""Shared fixtures: the app in-process, and the server as a real process on a free port.

Both serve :class:`~tests.apps.Echo`, not the project's logic: the machinery's
tests must not depend on what ``logic.py`` answers (``test_logic.py`` tests that).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiohttp import web

from {{ cookiecutter.package_name }} import Settings, create_app

from .apps import Echo
from .running_server import ServerProcess, running_server


@pytest.fixture
def settings() -> Settings:
    return Settings(host="127.0.0.1", port=0)


@pytest.fixture
def app(settings: Settings) -> web.Application:
    return create_app(settings, Echo)


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with running_server(logic="Echo") as running:
        yield running
