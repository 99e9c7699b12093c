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
{%- if not cookiecutter.multi_session %}
from {{ cookiecutter.package_name }}.connection import Connection
{%- endif %}
from {{ cookiecutter.package_name }}.logic import Logic
{%- if cookiecutter.multi_session %}
from {{ cookiecutter.package_name }}.protocol import SUBPROTOCOL
{%- endif %}
from {{ cookiecutter.package_name }}.proxy_in import INTERNAL_ERROR
{%- if cookiecutter.multi_session %}
from {{ cookiecutter.package_name }}.sessions import Session
{%- endif %}
from {{ cookiecutter.package_name }}.state import LOGIC, PROXY_OUT

from .running_server import ServerProcess

TIMEOUT = 5


async def assert_closed_with(ws: ClientWebSocketResponse, code: int) -> str:
    """Read until the close frame; return its reason."""
    message = await ws.receive(timeout=TIMEOUT)
    while message.type is WSMsgType.TEXT:
        message = await ws.receive(timeout=TIMEOUT)
    assert message.type is WSMsgType.CLOSE
    assert message.data == code
    return str(message.extra)


async def assert_serves_ping(client: TestClient[web.Request, web.Application]) -> None:
    """Another client is served as usual."""
    async with client.ws_connect("/ws") as bystander:
        await bystander.send_str("ping")
        assert await bystander.receive_str(timeout=TIMEOUT) == "pong"


async def test_oversized_message_closes_with_1009(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_message_size=1024)))
    async with client.ws_connect("/ws") as ws:
        await ws.send_str("x" * 1024)
        assert await ws.receive_str(timeout=TIMEOUT) == "ok"
        await ws.send_str("x" * 1025)
        await assert_closed_with(ws, WSCloseCode.MESSAGE_TOO_BIG)
    await assert_serves_ping(client)


async def test_invalid_utf8_closes_with_1007(server: ServerProcess) -> None:
    async with connect(server.ws_url) as ws:
        await ws.send(b"\xff\xfe not utf-8", text=True)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1007
    async with connect(server.ws_url) as bystander:
        await bystander.send("ping")
        assert await asyncio.wait_for(bystander.recv(), TIMEOUT) == "pong"


async def test_rate_limit_closes_with_1008_and_a_reason(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, rate_limit=5, rate_burst=5)))
    async with client.ws_connect("/ws") as ws:
        for _ in range(20):
            await ws.send_str("ping")
        reason = await assert_closed_with(ws, WSCloseCode.POLICY_VIOLATION)
    assert reason == "rate limit exceeded"
    await assert_serves_ping(client)


async def test_rate_limit_of_zero_is_lifted(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, rate_limit=0, rate_burst=1)))
    async with client.ws_connect("/ws") as ws:
        for _ in range(500):
            await ws.send_str("ping")
        replies = [await ws.receive_str(timeout=TIMEOUT) for _ in range(500)]
    assert replies == ["pong"] * 500


async def test_connections_over_the_total_limit_get_503(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0, max_connections=2))
    client = await aiohttp_client(app)
    first = await client.ws_connect("/ws")
    async with client.ws_connect("/ws"):
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 503
    await assert_serves_ping(client)  # a place came free
    await first.close()
{%- if cookiecutter.multi_session %}


async def test_connections_over_the_session_limit_get_429(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_session_connections=2)))
    async with client.ws_connect("/ws"), client.ws_connect("/ws"):  # same cookie jar: one session
        with pytest.raises(WSServerHandshakeError) as refused:
            await client.ws_connect("/ws")
        assert refused.value.status == 429
        client.session.cookie_jar.clear()  # another browser is not limited by this session
        await assert_serves_ping(client)


async def test_repeated_malformed_frames_close_with_1008(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_protocol_errors=3)))
    async with client.ws_connect("/ws", protocols=(SUBPROTOCOL,)) as ws:
        await ws.receive_str(timeout=TIMEOUT)  # welcome
        for _ in range(3):
            await ws.send_str("not json")
            assert "not valid JSON" in await ws.receive_str(timeout=TIMEOUT)
        await ws.send_str("not json")
        reason = await assert_closed_with(ws, WSCloseCode.POLICY_VIOLATION)
    assert reason == "too many bad frames"
{%- endif %}


class FailingLogic(Logic):
    """The shipped logic, except that the message ``boom`` raises."""
{%- if cookiecutter.multi_session %}

    async def on_message(self, session: Session, text: str) -> None:
        if text == "boom":
            raise RuntimeError("boom")
        await super().on_message(session, text)
{%- else %}

    async def on_message(self, client: Connection, text: str) -> None:
        if text == "boom":
            raise RuntimeError("boom")
        await super().on_message(client, text)
{%- endif %}


@pytest.fixture
def failing_app() -> web.Application:
    app = create_app(Settings(port=0))
    app[LOGIC] = FailingLogic(app[PROXY_OUT])
    return app


async def test_logic_exception_is_logged_and_reported_and_the_connection_carries_on(
    aiohttp_client: AiohttpClient, failing_app: web.Application, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(failing_app)
    with caplog.at_level(logging.ERROR):
        async with client.ws_connect("/ws") as ws:
            await ws.send_str("boom")
            assert await ws.receive_str(timeout=TIMEOUT) == INTERNAL_ERROR
            await ws.send_str("ping")
            assert await ws.receive_str(timeout=TIMEOUT) == "pong"
    failures = [record for record in caplog.records if record.exc_info]
    assert len(failures) == 1
    assert "on_message failed" in failures[0].getMessage()
    assert "RuntimeError: boom" in caplog.text
    await assert_serves_ping(client)
