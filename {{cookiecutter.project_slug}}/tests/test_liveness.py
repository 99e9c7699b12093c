"""Heartbeats: a peer that stops answering is dropped within two intervals, a live one is kept.

A peer that vanished (its machine is off, its network gone) leaves a half-open
connection that TCP alone may not notice for hours. The server pings every
``heartbeat`` seconds and drops a peer whose pong does not come back. On
loopback a vanished peer is played by one whose kernel still acknowledges but
whose websocket says nothing: from the server's side both are a missing pong.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time

import pytest
from aiohttp import WSMsgType, web
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import connect

from {{ cookiecutter.package_name }} import Settings
from {{ cookiecutter.package_name }}.core.state import PROXY_OUT

from .support import REPLY_TIMEOUT

HEARTBEAT = 0.2
SLACK = 0.5  # for a loaded CI machine's timers
POLL_INTERVAL = 0.01
PINGS = 5  # intervals a live client is watched for


@pytest.fixture
def settings() -> Settings:
    return Settings(host="127.0.0.1", port=0, heartbeat=HEARTBEAT)


def upgrade_request(host: str, port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


async def wait_for_connection_count(app: web.Application, count: int, timeout: float) -> float:
    """Wait until the server holds ``count`` connections; return when it did (monotonic time)."""
    for _ in range(int(timeout / POLL_INTERVAL)):
        if app[PROXY_OUT].connection_count == count:
            return time.monotonic()
        await asyncio.sleep(POLL_INTERVAL)
    raise AssertionError(f"still {app[PROXY_OUT].connection_count} connections after {timeout} s")


async def test_silent_peer_is_dropped_within_two_heartbeats(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    assert client.host is not None
    assert client.port is not None
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(upgrade_request(client.host, client.port))
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REPLY_TIMEOUT)
        assert response.startswith(b"HTTP/1.1 101 ")
        opened = await wait_for_connection_count(app, 1, REPLY_TIMEOUT)
        # From here on the peer reads nothing and answers no ping.
        dropped = await wait_for_connection_count(app, 0, 2 * HEARTBEAT + SLACK)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert dropped - opened >= HEARTBEAT  # it was pinged first, not refused


async def test_server_pings_every_interval(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws", autoping=False) as ws:
        started = time.monotonic()
        for _ in range(PINGS):
            message = await ws.receive(timeout=2 * HEARTBEAT + SLACK)
            assert message.type is WSMsgType.PING
            await ws.pong(message.data)
        elapsed = time.monotonic() - started
        await ws.send_str("still here")  # the app serves Echo (see conftest.py)
        assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "still here"
    assert elapsed >= (PINGS - 1) * HEARTBEAT  # one a heartbeat, not a burst


async def test_client_that_answers_pings_stays_connected(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    async with connect(f"ws://{client.host}:{client.port}/ws", ping_interval=None) as ws:
        # websockets answers the server's pings by itself; this client sends nothing else.
        await asyncio.sleep(PINGS * HEARTBEAT)
        assert app[PROXY_OUT].connection_count == 1
        await ws.send("still here")
        assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "still here"
