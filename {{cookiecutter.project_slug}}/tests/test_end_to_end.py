"""The server as a real process, driven by a real ``websockets`` client.

It serves :class:`~tests.apps.Echo` (see ``conftest.py``); the project's own
answers are tested in ``test_logic.py``.
"""

from __future__ import annotations

import asyncio
import errno
import os
import signal
import subprocess
import sys
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .running_server import ServerProcess, running_server


@pytest.mark.parametrize("path", ["/ws", "/"])
async def test_messages_are_exchanged_on_both_paths(server: ServerProcess, path: str) -> None:
    async with connect(f"ws://127.0.0.1:{server.port}{path}") as ws:
        for text in ("hello", "hello world"):
            await ws.send(text)
            assert await asyncio.wait_for(ws.recv(), 5) == text


def test_logs_where_it_listens(server: ServerProcess) -> None:
    assert f"started websocket server at ws://127.0.0.1:{server.port}/ws" in server.log()


def test_page_and_script_are_served(server: ServerProcess) -> None:
    with urllib.request.urlopen(server.http_url + "/", timeout=5) as response:
        assert b'id="sendMessage"' in response.read()
    with urllib.request.urlopen(server.http_url + "/scripts/ws-script.js", timeout=5) as response:
        assert b"new WebSocket(" in response.read()


async def test_sigterm_closes_clients_with_going_away_and_exits_zero(server: ServerProcess) -> None:
    async with connect(server.ws_url) as ws:
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), 5) == "hello"
        server.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001
    assert await asyncio.to_thread(server.wait) == 0
    assert "Traceback" not in server.log()


async def test_notify_interval_flag_streams_notify() -> None:
    with running_server("--notify-channel=", "--notify-interval", "0.1", logic="Echo") as streaming:
        async with connect(streaming.ws_url) as ws:
            number = int(str(await asyncio.wait_for(ws.recv(), 5)).removeprefix("notify "))
            assert await asyncio.wait_for(ws.recv(), 5) == f"notify {number + 1}"


async def test_debug_log_level_adds_a_line_per_connection_opening() -> None:
    with running_server("--log-level", "debug", logic="Echo") as server:
        async with connect(server.ws_url) as ws:
            await ws.send("hello")
            assert await asyncio.wait_for(ws.recv(), 5) == "hello"
        assert server.stop() == 0
        log = server.log()
    assert " DEBUG " in log
    assert "open {% if cookiecutter.multi_session %}session={% else %}conn={% endif %}" in log


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", os.strerror(errno.EADDRINUSE)),  # the port of the running server
        ("192.0.2.1", os.strerror(errno.EADDRNOTAVAIL)),  # TEST-NET-1: on no interface here
        ("no-such-host.invalid", ""),  # a name that resolves nowhere
    ],
)
def test_a_server_that_cannot_listen_says_why_in_one_line(
    server: ServerProcess, host: str, reason: str
) -> None:
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}"]
    address = ["--host", host, "--port", str(server.port)]
    result = subprocess.run([*command, *address], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert f"cannot listen on {host}:{server.port}: {reason}" in line
