"""The streaming example: a background producer that broadcasts through the outgoing proxy."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from {{ cookiecutter.package_name }} import Settings, create_app


async def test_notify_is_broadcast_to_every_client(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, notify_interval=0.05)))
    async with client.ws_connect("/ws") as first, client.ws_connect("/ws") as second:
        for ws in (first, second):
            number = int((await ws.receive_str(timeout=5)).removeprefix("notify "))
            assert await ws.receive_str(timeout=5) == f"notify {number + 1}"


async def test_notify_count_ends_the_stream(aiohttp_client: AiohttpClient) -> None:
    settings = Settings(port=0, notify_interval=0.01, notify_count=3)
    client = await aiohttp_client(create_app(settings))
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
        await ws.send_str("ping")
        assert await ws.receive_str(timeout=5) == "pong"
