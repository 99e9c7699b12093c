"""The app API: what the hooks are handed, when they are called, and where each send goes."""

from __future__ import annotations

import asyncio
{%- if cookiecutter.multi_session %}
import json
{%- endif %}
from collections.abc import Callable

import pytest
from aiohttp import ClientWebSocketResponse, WSMsgType, web
from pytest_aiohttp import AiohttpClient

from {{ cookiecutter.package_name }} import Settings, create_app
{%- if cookiecutter.multi_session %}
from {{ cookiecutter.package_name }}.api import Client, ProxyOut, Session
from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL
{%- else %}
from {{ cookiecutter.package_name }}.api import Client, ProxyOut
{%- endif %}
from {{ cookiecutter.package_name }}.core.state import LOGIC

from .support import REPLY_TIMEOUT, SILENCE{% if cookiecutter.multi_session %}, received_frame{% endif %}


class Recorder:
    """Records each hook call; answers a few commands, to show where each kind of send goes."""

    def __init__(self, out: ProxyOut) -> None:
        self.out = out
        self.events: list[str] = []

    async def on_connect(self, client: Client) -> None:
        self.events.append(f"connect {client.id}")

    async def on_message(self, client: Client, text: str) -> None:
        command, _, argument = text.partition(" ")
        if command == "reply":
            await client.send(argument)
        elif command == "all-but-me":
            await self.out.broadcast(argument, exclude=client)
        elif command == "remember":
            client.data["note"] = argument
        elif command == "recall":
            await client.send(str(client.data.get("note")))
{%- if cookiecutter.multi_session %}
        elif command == "remember-for-session":
            client.session.data["note"] = argument
        elif command == "recall-for-session":
            await client.send(str(client.session.data.get("note")))
{%- endif %}

    async def on_disconnect(self, client: Client) -> None:
        self.events.append(f"disconnect {client.id}")
{%- if cookiecutter.multi_session %}

    async def on_session_start(self, session: Session) -> None:
        self.events.append("session start")

    async def on_session_end(self, session: Session) -> None:
        self.events.append("session end")
{%- endif %}


class FailsToConnect(Recorder):
    async def on_connect(self, client: Client) -> None:
        raise RuntimeError("a bug in on_connect")


def recorder(app: web.Application) -> Recorder:
    logic = app[LOGIC]
    assert isinstance(logic, Recorder)
    return logic


async def assert_silent(ws: ClientWebSocketResponse) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=SILENCE)


async def wait_for(condition: Callable[[], bool]) -> None:
    for _ in range(int(REPLY_TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


async def test_a_reply_reaches_the_sender_only(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Recorder))
    async with client.ws_connect("/ws") as sender, client.ws_connect("/ws") as other:
        await sender.send_str("reply hello")
        assert await sender.receive_str(timeout=REPLY_TIMEOUT) == "hello"
        await assert_silent(other)  # {% if cookiecutter.multi_session %}the same session (one cookie), another tab{% else %}another client{% endif %}


async def test_broadcast_can_leave_the_sender_out(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0), Recorder)
    client = await aiohttp_client(app)
{%- if cookiecutter.multi_session %}
    others = await aiohttp_client(app)  # a second cookie jar: another browser, another session
{%- else %}
    others = client
{%- endif %}
    async with client.ws_connect("/ws") as sender, others.ws_connect("/ws") as other:
        await sender.send_str("all-but-me news")
        assert await other.receive_str(timeout=REPLY_TIMEOUT) == "news"
        await assert_silent(sender)


async def test_client_data_lasts_as_long_as_the_connection(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Recorder))
    async with client.ws_connect("/ws") as ws:
        await ws.send_str("remember alice")
        await ws.send_str("recall")
        assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "alice"
    async with client.ws_connect("/ws") as ws:  # a new connection: a new client
        await ws.send_str("recall")
        assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "None"


async def test_a_failing_on_connect_closes_that_client_with_1011(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), FailsToConnect))
    async with client.ws_connect("/ws") as ws:
        message = await ws.receive(timeout=REPLY_TIMEOUT)
    assert message.type is WSMsgType.CLOSE
    assert message.data == 1011
{%- if cookiecutter.multi_session %}


async def test_session_data_is_shared_by_the_tabs(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Recorder))
    async with client.ws_connect("/ws") as first, client.ws_connect("/ws") as second:
        await first.send_str("remember-for-session blue")
        await first.send_str("recall-for-session")
        assert await first.receive_str(timeout=REPLY_TIMEOUT) == "blue"
        await second.send_str("recall-for-session")
        assert await second.receive_str(timeout=REPLY_TIMEOUT) == "blue"


async def test_disconnect_is_at_once_and_the_session_ends_after_the_grace(
    aiohttp_client: AiohttpClient,
) -> None:
    app = create_app(Settings(port=0, session_grace=0.5), Recorder)
    client = await aiohttp_client(app)
    events = recorder(app).events

    def disconnects() -> int:
        return sum(event.startswith("disconnect") for event in events)

    async with client.ws_connect("/ws"):
        async with client.ws_connect("/ws"):
            pass  # a second tab opens and closes
        await wait_for(lambda: disconnects() == 1)  # at once, the session carries on
        assert events.count("session start") == 1  # the second tab joined the same session
    await wait_for(lambda: disconnects() == 2)
    assert "session end" not in events  # the grace has not run out: a reconnect would rejoin
    await wait_for(lambda: "session end" in events)
    assert events[0] == "session start"
    assert events[-1] == "session end"


async def test_a_direct_message_is_not_numbered_nor_replayed(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Recorder))
    ws = await client.ws_connect("/ws", protocols=(SUBPROTOCOL,))
    assert (await received_frame(ws))["type"] == "welcome"
    await ws.send_str(json.dumps({"type": "message", "data": "reply for this tab"}))
    reply = await received_frame(ws)
    assert reply == {"type": "direct", "data": "for this tab"}
    await ws.close()
    resumed = await client.ws_connect("/ws?last_seq=0", protocols=(SUBPROTOCOL,))
    welcome = await received_frame(resumed)
    assert welcome["seq"] == 0  # nothing numbered was sent: nothing to replay
    await assert_silent(resumed)
    await resumed.close()
{%- endif %}


class BinaryEcho(Recorder):
    """Takes binary messages too, and sends them back as they came."""

    async def on_binary(self, client: Client, data: bytes) -> None:
        await client.send(data[::-1])


async def test_a_logic_with_on_binary_is_handed_bytes_and_sends_bytes(
    aiohttp_client: AiohttpClient,
) -> None:
    settings = Settings(port=0, max_message_size=16, rate_limit=1, rate_burst=2)
    client = await aiohttp_client(create_app(settings, BinaryEcho))
    async with client.ws_connect("/ws") as ws:
        await ws.send_bytes(b"\x00\x01\xff")
        assert await ws.receive_bytes(timeout=REPLY_TIMEOUT) == b"\xff\x01\x00"
    async with client.ws_connect("/ws") as ws:  # counted by the same size limit
        await ws.send_bytes(bytes(17))
        message = await ws.receive(timeout=REPLY_TIMEOUT)
        assert (message.type, message.data) == (WSMsgType.CLOSE, 1009)
    async with client.ws_connect("/ws") as ws:  # and by the same rate limit
        for _ in range(3):
            await ws.send_bytes(b"x")
        replies = [await ws.receive(timeout=REPLY_TIMEOUT) for _ in range(3)]
        assert [reply.type for reply in replies] == [WSMsgType.BINARY] * 2 + [WSMsgType.CLOSE]
        assert replies[-1].data == 1008


async def test_a_logic_without_on_binary_refuses_binary_with_1003(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Recorder))
    async with client.ws_connect("/ws") as ws:
        await ws.send_bytes(b"\x00")
        message = await ws.receive(timeout=REPLY_TIMEOUT)
    assert (message.type, message.data) == (WSMsgType.CLOSE, 1003)
