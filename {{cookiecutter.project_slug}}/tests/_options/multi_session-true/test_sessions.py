"""Sessions: a cookie per browser, shared by its tabs, isolated from others, dropped after use.

The server here serves :class:`~tests.apps.SessionEcho`: what a tab sends goes
back to every tab of its session, and to no other session.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import ClientConnection, connect

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.sessions import SESSION_COOKIE
from {{ cookiecutter.package_name }}.core.state import MEMBERS, PROXY_OUT
from {{ cookiecutter.package_name }}.testing import serving

from .apps import Echo
from .cookies import cookie_header, given_cookies, session_id_of
from .running_server import ServerProcess, running_server
from .support import PAGE, REPLY_TIMEOUT, SILENCE


def open_session(server: ServerProcess, session_id: str | None = None) -> connect:
    """A connection presenting ``session_id``'s cookie: ``await`` it or use ``async with``."""
    return connect(server.ws_url, additional_headers=cookie_header(session_id))


async def assert_silent(ws: ClientConnection) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(ws.recv(), SILENCE)


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with running_server(logic="SessionEcho") as running:
        yield running


async def test_handshake_sets_a_strong_http_only_cookie(server: ServerProcess) -> None:
    async with open_session(server) as ws:
        morsel = given_cookies(ws)[SESSION_COOKIE]
    assert len(morsel.value) >= 22  # 16 random bytes, URL-safe base64
    assert morsel["httponly"] is True
    assert morsel["samesite"] == "Lax"
    assert morsel["path"] == "/"


async def test_the_session_id_is_in_no_frame_and_no_log_line() -> None:
    with running_server("--log-level", "debug", logic="SessionEcho") as server:
        async with connect(server.ws_url, subprotocols=PAGE) as ws:
            session_id = session_id_of(ws)
            frames = [await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT)]  # the welcome
            await ws.send(json.dumps({"type": "message", "data": "hello"}))
            frames.append(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT))
        assert server.stop() == 0
        log = server.log()
    assert json.loads(frames[1]) == {"type": "message", "seq": 1, "data": "hello"}
    assert all(session_id not in str(frame) for frame in frames)
    assert session_id not in log
    assert re.search(r"close session=[0-9a-f]{8} conn=1 ", log), log


async def test_sessions_are_isolated(server: ServerProcess) -> None:
    async with open_session(server) as alice, open_session(server) as bob:
        assert session_id_of(alice) != session_id_of(bob)
        await alice.send("hello")
        assert await asyncio.wait_for(alice.recv(), REPLY_TIMEOUT) == "hello"
        await assert_silent(bob)


async def test_two_tabs_of_one_session_both_get_what_is_sent_to_the_session(
    server: ServerProcess,
) -> None:
    async with open_session(server) as first_tab:
        session_id = session_id_of(first_tab)
        async with open_session(server, session_id) as second_tab:
            assert given_cookies(second_tab) == SimpleCookie()  # rejoined: no new cookie
            await first_tab.send("hello")
            assert await asyncio.wait_for(first_tab.recv(), REPLY_TIMEOUT) == "hello"
            assert await asyncio.wait_for(second_tab.recv(), REPLY_TIMEOUT) == "hello"


async def test_closing_an_old_tab_keeps_the_newer_one_in_the_session(server: ServerProcess) -> None:
    old_tab = await open_session(server)
    session_id = session_id_of(old_tab)
    async with open_session(server, session_id) as new_tab:
        await old_tab.close()
        await new_tab.send("hello")
        assert await asyncio.wait_for(new_tab.recv(), REPLY_TIMEOUT) == "hello"


async def test_reconnect_with_the_cookie_rejoins_the_session(server: ServerProcess) -> None:
    async with open_session(server) as ws:
        session_id = session_id_of(ws)
    async with open_session(server, session_id) as ws:
        assert SESSION_COOKIE not in given_cookies(ws)
        await ws.send("hello")
        assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "hello"


@pytest.mark.parametrize(
    "forged",
    ["not-a-session", "A" * 22, "", "x" * 4000, "'; DROP TABLE sessions; --", "\u00e9\u00e8"],
)
async def test_forged_or_unknown_ids_get_a_fresh_session(
    server: ServerProcess, forged: str
) -> None:
    async with open_session(server) as victim:
        victim_id = session_id_of(victim)
        async with open_session(server, forged.encode("utf-8").decode("latin-1")) as attacker:
            fresh_id = session_id_of(attacker)
            assert fresh_id not in (forged, victim_id)
            await attacker.send("hello")
            assert await asyncio.wait_for(attacker.recv(), REPLY_TIMEOUT) == "hello"
            await assert_silent(victim)


async def test_to_session_reaches_only_the_addressed_session(
    aiohttp_client: AiohttpClient,
) -> None:
    app = create_app(Settings(port=0), Echo)
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws") as target:
        cookies = client.session.cookie_jar.filter_cookies(client.make_url("/"))
        target_id = cookies[SESSION_COOKIE].value
        client.session.cookie_jar.clear()  # the bystander is another browser
        bystander = await client.ws_connect("/ws")
        await app[PROXY_OUT].to_session(target_id, "for you")
        assert await target.receive_str(timeout=REPLY_TIMEOUT) == "for you"
        with pytest.raises(asyncio.TimeoutError):
            await bystander.receive_str(timeout=SILENCE)
        await bystander.close()


async def wait_for_no_sessions(app: web.Application) -> None:
    """Poll until the registry is empty: expiry happens on the server's own timers."""
    for _ in range(int(REPLY_TIMEOUT / 0.01)):
        if not app[MEMBERS].sessions:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(app[MEMBERS].sessions)} sessions left")


async def test_session_is_dropped_after_the_grace_period(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0, session_grace=1.0), Echo)
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws"):
        assert len(app[MEMBERS].sessions) == 1
    await asyncio.sleep(0.05)
    assert len(app[MEMBERS].sessions) == 1  # still inside the grace period
    await wait_for_no_sessions(app)


async def test_registry_does_not_grow_with_churn(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0, session_grace=0), Echo)
    client = await aiohttp_client(app)
    for _ in range(1_000):
        client.session.cookie_jar.clear()  # a new browser each time: the worst case for growth
        async with client.ws_connect("/ws") as ws:
            await ws.send_str("hello")
            assert await ws.receive_str(timeout=REPLY_TIMEOUT) == "hello"
    await wait_for_no_sessions(app)


async def test_a_session_subscription_reaches_every_tab_and_the_later_ones() -> None:
    async with serving(Echo) as app:
        alice = await app.connect()
        await alice.send("hello")
        assert await alice.receive() == "hello"  # joined: the server knows the tab
        (tab,) = app.app[PROXY_OUT].connections()
        await app.out.subscribe_session(tab.session.id, "room")
        later_tab = await app.connect(tab_of=alice)
        bob = await app.connect()
        await later_tab.send("hello")
        assert await later_tab.receive() == "hello"
        await app.out.publish("room", "to the room")
        assert await alice.receive() == "to the room"
        assert await later_tab.receive() == "to the room"
        await bob.assert_receives_nothing()
        await app.out.unsubscribe_session(tab.session.id, "room")
        await app.out.publish("room", "after")
        await alice.assert_receives_nothing()
        await later_tab.assert_receives_nothing()
