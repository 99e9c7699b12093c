"""Limits and bad input: the offender gets a close code that says why; everyone else carries on."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiohttp import ClientWebSocketResponse, WSCloseCode, WSMsgType, WSServerHandshakeError, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from {{ cookiecutter.package_name }} import Settings, create_app
{%- if cookiecutter.multi_session %}
from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL
{%- endif %}
from {{ cookiecutter.package_name }}.core.proxy_in import INTERNAL_ERROR

from .apps import FAILURE, Echo, Failing
from .running_server import ServerProcess
from .support import REPLY_TIMEOUT


async def assert_closed_with(ws: ClientWebSocketResponse, code: int) -> str:
    """Read until the close frame; return its reason."""
    message = await ws.receive(timeout=REPLY_TIMEOUT)
    while message.type is WSMsgType.TEXT:
        message = await ws.receive(timeout=REPLY_TIMEOUT)
    assert message.type is WSMsgType.CLOSE
    assert message.data == code
    return str(message.extra)


async def assert_serves_another(client: TestClient[web.Request, web.Application]) -> None:
    """Another client is served as usual (the apps here serve Echo)."""
    async with client.ws_connect("/ws") as bystander:
        await bystander.send_str("hello")
        assert await bystander.receive_str(timeout=REPLY_TIMEOUT) == "hello"


async def test_oversized_message_closes_with_1009(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_message_size=1024), Echo))
    async with client.ws_connect("/ws") as ws:
        await ws.send_str("x" * 1024)
        assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "x" * 1024
        await ws.send_str("x" * 1025)
        await assert_closed_with(ws, WSCloseCode.MESSAGE_TOO_BIG)
    await assert_serves_another(client)


async def test_invalid_utf8_closes_with_1007(server: ServerProcess) -> None:
    async with connect(server.ws_url) as ws:
        await ws.send(b"\xff\xfe not utf-8", text=True)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1007
    async with connect(server.ws_url) as bystander:
        await bystander.send("hello")
        assert await asyncio.wait_for(bystander.recv(), REPLY_TIMEOUT) == "hello"


async def test_rate_limit_closes_with_1008_and_a_reason(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, rate_limit=5, rate_burst=5), Echo))
    async with client.ws_connect("/ws") as ws:
        for _ in range(20):
            await ws.send_str("hello")
        reason = await assert_closed_with(ws, WSCloseCode.POLICY_VIOLATION)
    assert reason == "rate limit exceeded"
    await assert_serves_another(client)


async def test_rate_limit_of_zero_is_lifted(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, rate_limit=0, rate_burst=1), Echo))
    async with client.ws_connect("/ws") as ws:
        for number in range(500):
            await ws.send_str(str(number))
        replies = [await ws.receive_str(timeout=REPLY_TIMEOUT) for _ in range(500)]
    assert replies == [str(number) for number in range(500)]


async def test_connections_over_the_total_limit_get_503(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_connections=2), Echo))
    first = await client.ws_connect("/ws")
    async with client.ws_connect("/ws"):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 503
    await assert_serves_another(client)  # a place came free
    await first.close()
{%- if cookiecutter.multi_session %}


async def test_connections_over_the_session_limit_get_429(aiohttp_client: AiohttpClient) -> None:
    settings = Settings(port=0, max_session_connections=2)
    client = await aiohttp_client(create_app(settings, Echo))
    async with client.ws_connect("/ws"), client.ws_connect("/ws"):  # same cookie jar: one session
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 429
        client.session.cookie_jar.clear()  # another browser is not limited by this session
        await assert_serves_another(client)


async def test_repeated_malformed_frames_close_with_1008(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_protocol_errors=3), Echo))
    async with client.ws_connect("/ws", protocols=(SUBPROTOCOL,)) as ws:
        await ws.receive_str(timeout=REPLY_TIMEOUT)  # welcome
        for _ in range(3):
            await ws.send_str("not json")
            assert "not valid JSON" in await ws.receive_str(timeout=REPLY_TIMEOUT)
        await ws.send_str("not json")
        reason = await assert_closed_with(ws, WSCloseCode.POLICY_VIOLATION)
    assert reason == "too many bad frames"
{%- endif %}


async def test_logic_exception_is_logged_and_reported_and_the_connection_carries_on(
    aiohttp_client: AiohttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Failing))
    with caplog.at_level(logging.ERROR):
        async with client.ws_connect("/ws") as ws:
            await ws.send_str(FAILURE)
            assert await ws.receive_str(timeout=REPLY_TIMEOUT) == INTERNAL_ERROR
            await ws.send_str("hello")
            assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "hello"
    failures = [record for record in caplog.records if record.exc_info]
    assert len(failures) == 1
    assert "on_message failed" in failures[0].getMessage()
    assert "RuntimeError: a bug in the logic" in caplog.text
    await assert_serves_another(client)
