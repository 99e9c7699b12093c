"""Shared fixtures: the app in-process, and the server as a real process on a free port.

Both serve :class:`~tests.apps.Echo`, not the project's logic: the machinery's
tests must not depend on what ``logic.py`` answers (``test_logic.py`` tests that).
Every async test must also close the connections it opened before it ends.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator

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


@pytest.fixture(autouse=True)
def _connections_closed(request: pytest.FixtureRequest) -> None:
    """Check every async test with :func:`_no_connection_left_open` (sync ones have no loop)."""
    if inspect.iscoroutinefunction(request.function):
        request.getfixturevalue("_no_connection_left_open")


@pytest.fixture
async def _no_connection_left_open() -> AsyncIterator[None]:
    """Fail a test that leaves a connection open when it ends, once its fixtures closed theirs.

    Left open, say when its server stopped, a connection is closed only if the
    loop happens to turn enough times before it closes; otherwise its socket
    is collected later, and fails whichever test runs then with a
    ``ResourceWarning``. The loop's register of transports (private to
    asyncio's own loop, which the tests run on) tells which are still open.
    """
    yield
    transports = vars(asyncio.get_running_loop())["_transports"].values()
    left_open = [transport for transport in transports if not transport.is_closing()]
    assert not left_open, f"close every connection before the test ends: {left_open}"
