"""The origin check: only the page's own origin and listed ones may open a websocket.

Another origin gets HTTP 403 before the upgrade, so a hostile page cannot use
a visitor's cookies over a websocket (cross-site WebSocket hijacking).
Clients that send no ``Origin`` are not browsers and are let in, unless
``require_origin`` says otherwise.
"""

from __future__ import annotations

import pytest
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.state import PROXY_OUT

from .apps import Echo
from .support import REPLY_TIMEOUT

LISTED = "https://app.example"

Client = TestClient[web.Request, web.Application]


async def start(
    aiohttp_client: AiohttpClient,
    allowed_origins: tuple[str, ...] = (),
    require_origin: bool = False,
) -> Client:
    settings = Settings(
        host="127.0.0.1", port=0, allowed_origins=allowed_origins, require_origin=require_origin
    )
    return await aiohttp_client(create_app(settings, Echo))


def own_origin(client: Client) -> str:
    """The origin of the page that this server serves, as a browser names it."""
    return f"http://{client.host}:{client.port}"


async def assert_accepted(client: Client, path: str = "/ws", origin: str | None = None) -> None:
    async with client.ws_connect(path, origin=origin) as ws:
        await ws.send_str("hello")
        assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "hello"


async def assert_refused(client: Client, path: str = "/ws", origin: str | None = None) -> None:
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect(path, origin=origin)
    assert refused.value.status == 403
    assert client.app is not None
    assert client.app[PROXY_OUT].connection_count == 0


@pytest.mark.parametrize("path", ["/ws", "/"])
async def test_page_own_origin_is_accepted(aiohttp_client: AiohttpClient, path: str) -> None:
    client = await start(aiohttp_client)
    await assert_accepted(client, path, own_origin(client))


@pytest.mark.parametrize("path", ["/ws", "/"])
async def test_other_origin_gets_403_before_the_upgrade(
    aiohttp_client: AiohttpClient, path: str
) -> None:
    client = await start(aiohttp_client)
    await assert_refused(client, path, "https://evil.example")


async def test_same_host_on_another_port_is_another_origin(aiohttp_client: AiohttpClient) -> None:
    client = await start(aiohttp_client)
    assert client.port is not None
    await assert_refused(client, origin=f"http://{client.host}:{client.port + 1}")


async def test_listed_origin_is_accepted(aiohttp_client: AiohttpClient) -> None:
    client = await start(aiohttp_client, allowed_origins=(LISTED,))
    await assert_accepted(client, origin=LISTED)
    await assert_refused(client, origin="https://other.example")


async def test_listed_origin_is_refused_unless_listed(aiohttp_client: AiohttpClient) -> None:
    client = await start(aiohttp_client)
    await assert_refused(client, origin=LISTED)


async def test_no_origin_is_accepted_by_default(aiohttp_client: AiohttpClient) -> None:
    client = await start(aiohttp_client)
    await assert_accepted(client)


async def test_no_origin_is_refused_when_required(aiohttp_client: AiohttpClient) -> None:
    client = await start(aiohttp_client, require_origin=True)
    await assert_refused(client)
    await assert_accepted(client, origin=own_origin(client))


async def test_null_origin_is_refused(aiohttp_client: AiohttpClient) -> None:
    # Sandboxed iframes and file:// pages send "null": it names no page that could be trusted.
    client = await start(aiohttp_client)
    await assert_refused(client, origin="null")
