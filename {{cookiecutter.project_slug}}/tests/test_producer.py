"""The streaming example: a background producer that broadcasts through the outgoing proxy."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.state import (
    AUDIENCE,
    PROXY_OUT,
    Audience,
)

from .apps import Echo

QUIET = 0.3  # seconds without a message that show a stream has not started (30 intervals)


async def test_notify_is_broadcast_to_every_client(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(
        create_app(Settings(port=0, notify_channel="", notify_interval=0.05), Echo)
    )
    async with client.ws_connect("/ws") as first, client.ws_connect("/ws") as second:
        for ws in (first, second):
            number = int((await ws.receive_str(timeout=5)).removeprefix("notify "))
            assert await ws.receive_str(timeout=5) == f"notify {number + 1}"


async def test_notify_count_ends_the_stream(aiohttp_client: AiohttpClient) -> None:
    settings = Settings(port=0, notify_channel="", notify_interval=0.01, notify_count=3)
    client = await aiohttp_client(create_app(settings, Echo))
    async with client.ws_connect("/ws") as ws:
        received = [await ws.receive_str(timeout=5) for _ in range(3)]
        assert received == ["notify 1", "notify 2", "notify 3"]
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_str(timeout=0.2)


async def test_producer_is_off_by_default(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws") as ws:
        with pytest.raises(asyncio.TimeoutError):
            await ws.receive_str(timeout=0.3)
        await ws.send_str("hello")
        assert await ws.receive_str(timeout=5) == "hello"


async def test_the_stream_waits_until_enough_clients_are_connected(
    aiohttp_client: AiohttpClient,
) -> None:
    settings = Settings(port=0, notify_channel="", notify_interval=0.01, notify_after_clients=3)
    client = await aiohttp_client(create_app(settings, Echo))
    async with client.ws_connect("/ws") as first, client.ws_connect("/ws") as second:
        for ws in (first, second):
            with pytest.raises(asyncio.TimeoutError):
                await ws.receive_str(timeout=QUIET / 2)
        async with client.ws_connect("/ws") as third:
            for ws in (first, second, third):
                received = [await ws.receive_str(timeout=5) for _ in range(2)]
                assert received == ["notify 1", "notify 2"]


async def test_clients_that_left_do_not_count(aiohttp_client: AiohttpClient) -> None:
    app = create_app(
        Settings(port=0, notify_channel="", notify_interval=0.01, notify_after_clients=2), Echo
    )
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws"):
        pass
    for _ in range(100):
        if app[PROXY_OUT].connection_count == 0:
            break
        await asyncio.sleep(0.01)
    async with client.ws_connect("/ws") as first:
        with pytest.raises(asyncio.TimeoutError):
            await first.receive_str(timeout=QUIET)
        async with client.ws_connect("/ws") as second:
            for ws in (first, second):
                assert await ws.receive_str(timeout=5) == "notify 1"


def test_connects_are_not_counted_without_a_stream_to_start() -> None:
    assert not create_app(Settings(port=0, notify_after_clients=5), Echo)[AUDIENCE].waiting
    assert not create_app(Settings(port=0, notify_channel="", notify_interval=1), Echo)[
        AUDIENCE
    ].waiting


async def test_an_audience_gathers_once_enough_are_connected_at_once() -> None:
    await asyncio.wait_for(Audience(0).gathered(), 1)  # nobody to wait for
    audience = Audience(2)
    gathered = asyncio.create_task(audience.gathered())
    audience.connected(1)
    await asyncio.sleep(0)
    assert audience.waiting
    assert not gathered.done()
    audience.connected(2)
    await asyncio.wait_for(gathered, 1)
    assert not audience.waiting
