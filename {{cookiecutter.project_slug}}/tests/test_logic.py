"""The sample logic, ``logic.py``: ``ping`` gets ``pong``, anything else ``ok``, to the sender.

These tests are about what the project answers: rewrite them as you rewrite
``logic.py``. Every other test serves a logic of its own (``tests/apps.py``),
so it keeps passing whatever yours does.
"""

from __future__ import annotations

import asyncio
import json
from unittest.mock import ANY

import pytest
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import connect

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.app.settings import NOTIFICATIONS
from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL
from {{ cookiecutter.package_name }}.testing import serving

from .running_server import running_server
from .support import REPLY_TIMEOUT, received_frame


@pytest.mark.parametrize(
    ("text", "reply"), [("ping", "pong"), ("hello world", "ok"), ("", "ok"), ("PING", "ok")]
)
async def test_ping_gets_pong_and_anything_else_gets_ok(text: str, reply: str) -> None:
    async with serving() as app:  # the project's own logic
        alice = await app.connect()
        await alice.send(text)
        assert await alice.receive() == reply


async def test_the_reply_goes_to_the_sender_only() -> None:
    async with serving() as app:
        alice = await app.connect()
        bob = await app.connect()
{%- if cookiecutter.multi_session %}
        alices_other_tab = await app.connect(tab_of=alice)  # the same session
{%- endif %}
        await alice.send("ping")
        assert await alice.receive() == "pong"
        await bob.assert_receives_nothing()
{%- if cookiecutter.multi_session %}
        await alices_other_tab.assert_receives_nothing()
{%- endif %}


@pytest.mark.parametrize("path", ["/ws", "/"])
async def test_the_server_answers_ping_with_pong(path: str) -> None:
    with running_server() as server:  # a real process, serving the project's own logic
        async with connect(f"ws://127.0.0.1:{server.port}{path}") as ws:
            await ws.send("ping")
            assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "pong"
            await ws.send("hello world")
            assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "ok"


async def test_every_client_follows_the_streaming_examples_channel() -> None:
    async with serving() as app:
        alice = await app.connect()
        bob = await app.connect()
        await app.out.publish(NOTIFICATIONS, "notify 1")
        assert await alice.receive() == "notify 1"
        assert await bob.receive() == "notify 1"


async def test_a_protocol_client_gets_the_reply_as_a_direct_frame(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0)))
    async with client.ws_connect("/ws", protocols=(SUBPROTOCOL,)) as ws:
        assert (await received_frame(ws))["type"] == "welcome"
        subscribed = await received_frame(ws)
        assert subscribed == {
            "type": "subscribed",
            "channel": NOTIFICATIONS,
            "seq": 0,
            "epoch": ANY,
        }
        for text, reply in (("ping", "pong"), ("hello", "ok")):
            await ws.send_str(json.dumps({"type": "message", "data": text}))
            frame = await received_frame(ws)
            assert frame == {"type": "direct", "data": reply}  # unnumbered: not replayed
