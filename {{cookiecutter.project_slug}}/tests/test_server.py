"""The application in-process: the page, its script, and websockets on both paths."""

from __future__ import annotations

import pytest
from aiohttp import WSCloseCode, WSMsgType, web
from pytest_aiohttp import AiohttpClient


async def test_page_is_served_at_root(aiohttp_client: AiohttpClient, app: web.Application) -> None:
    client = await aiohttp_client(app)
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    for element_id in ("connect", "disconnect", "message", "sendMessage", "output"):
        assert f'id="{element_id}"' in page
    assert 'src="scripts/ws-script.js"' in page


async def test_script_is_served_and_derives_its_url_from_the_page(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    response = await client.get("/scripts/ws-script.js")
    assert response.status == 200
    script = await response.text()
    assert "location.host" in script
    assert "localhost" not in script
    assert "innerHTML" not in script


async def test_missing_script_is_404(aiohttp_client: AiohttpClient, app: web.Application) -> None:
    client = await aiohttp_client(app)
    response = await client.get("/scripts/nope.js")
    assert response.status == 404


@pytest.mark.parametrize("path", ["/ws", "/"])
async def test_text_messages_reach_the_logic_on_both_paths(
    aiohttp_client: AiohttpClient, app: web.Application, path: str
) -> None:
    client = await aiohttp_client(app)
    async with client.ws_connect(path) as ws:  # the app serves Echo (see conftest.py)
        for text in ("hello world", "", "\u00e9t\u00e9 \U0001f600"):
            await ws.send_str(text)
            assert await ws.receive_str(timeout=5) == text


async def test_binary_frame_closes_with_unsupported_data(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws") as ws:
        await ws.send_bytes(b"ping")
        message = await ws.receive(timeout=5)
        assert message.type is WSMsgType.CLOSE
        assert message.data == WSCloseCode.UNSUPPORTED_DATA


async def test_shutdown_closes_connections_with_going_away(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws")
    await app.shutdown()
    message = await ws.receive(timeout=5)
    assert message.type is WSMsgType.CLOSE
    assert message.data == WSCloseCode.GOING_AWAY
