"""Resume without loss: numbered session messages, replayed after a reconnect, gaps said aloud."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientWebSocketResponse, web
from aiohttp.test_utils import TestClient
from pytest_aiohttp import AiohttpClient

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL
from {{ cookiecutter.package_name }}.core.sessions import SESSION_COOKIE
from {{ cookiecutter.package_name }}.core.state import MEMBERS, PROXY_OUT

from .apps import Echo
from .resuming_client import CutPlan, ResumingClient
from .running_server import running_server
from .support import REPLY_TIMEOUT, received_frame

STREAM_LENGTH = 1_500
STREAM_INTERVAL = "0.003"  # seconds: a few hundred messages a second
CUTS = 40
MAX_PAUSE = 0.3  # seconds a client may wait before it reconnects


async def receive_frame(ws: ClientWebSocketResponse) -> dict[str, Any]:
    frame: dict[str, Any] = await received_frame(ws)
    return frame


async def open_protocol_client(
    client: TestClient[web.Request, web.Application], last_seq: int | str | None = None
) -> tuple[ClientWebSocketResponse, dict[str, Any]]:
    """Connect as the page does; return the socket and its welcome frame."""
    path = "/ws" if last_seq is None else f"/ws?last_seq={last_seq}"
    ws = await client.ws_connect(path, protocols=(SUBPROTOCOL,))
    welcome = await receive_frame(ws)
    assert welcome["type"] == "welcome"
    return ws, welcome


def session_id_of(client: TestClient[web.Request, web.Application]) -> str:
    """The session id the client holds: in its cookie, never in a frame."""
    return client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value


async def test_reconnect_replays_exactly_what_was_missed(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0), Echo)
    client = await aiohttp_client(app)
    ws, welcome = await open_protocol_client(client)
    session_id = session_id_of(client)
    await app[PROXY_OUT].to_session(session_id, "one")
    assert await receive_frame(ws) == {"type": "message", "seq": 1, "data": "one"}
    await ws.close()

    for text in ("two", "three"):
        await app[PROXY_OUT].to_session(session_id, text)
    ws, welcome = await open_protocol_client(client, last_seq=1)
    assert session_id_of(client) == session_id
    assert welcome["seq"] == 3
    assert await receive_frame(ws) == {"type": "message", "seq": 2, "data": "two"}
    assert await receive_frame(ws) == {"type": "message", "seq": 3, "data": "three"}
    await app[PROXY_OUT].to_session(session_id, "live")
    assert await receive_frame(ws) == {"type": "message", "seq": 4, "data": "live"}
    await ws.close()


async def test_resume_after_the_buffer_overflowed_gets_a_gap_frame(
    aiohttp_client: AiohttpClient,
) -> None:
    app = create_app(Settings(port=0, replay_size=5), Echo)
    client = await aiohttp_client(app)
    ws, _ = await open_protocol_client(client)
    await ws.close()
    for number in range(1, 14):
        await app[PROXY_OUT].to_session(session_id_of(client), f"m{number}")

    ws, _ = await open_protocol_client(client, last_seq=0)
    assert await receive_frame(ws) == {"type": "gap", "from": 1, "to": 8}
    replayed = [await receive_frame(ws) for _ in range(5)]
    assert [frame["seq"] for frame in replayed] == [9, 10, 11, 12, 13]
    assert [frame["data"] for frame in replayed] == ["m9", "m10", "m11", "m12", "m13"]
    await ws.close()


async def test_messages_older_than_the_replay_age_are_a_gap(aiohttp_client: AiohttpClient) -> None:
    # Ages far apart, so that a slow reconnect on a busy machine cannot age "fresh" out too.
    app = create_app(Settings(port=0, replay_age=0.5), Echo)
    client = await aiohttp_client(app)
    ws, _ = await open_protocol_client(client)
    await ws.close()
    await app[PROXY_OUT].to_session(session_id_of(client), "stale")
    await asyncio.sleep(0.6)
    await app[PROXY_OUT].to_session(session_id_of(client), "fresh")

    ws, _ = await open_protocol_client(client, last_seq=0)
    assert await receive_frame(ws) == {"type": "gap", "from": 1, "to": 1}
    assert await receive_frame(ws) == {"type": "message", "seq": 2, "data": "fresh"}
    await ws.close()


async def test_resume_of_an_expired_session_gets_a_reset(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0, session_grace=0), Echo)
    client = await aiohttp_client(app)
    ws, _ = await open_protocol_client(client)
    old_session_id = session_id_of(client)
    await ws.close()
    for _ in range(100):
        if not app[MEMBERS].sessions:
            break
        await asyncio.sleep(0.01)

    ws, _ = await open_protocol_client(client, last_seq=7)
    assert session_id_of(client) != old_session_id
    assert await receive_frame(ws) == {"type": "reset", "reason": "session expired", "seq": 0}
    await ws.close()


async def test_impossible_positions_get_a_reset(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0), Echo)
    client = await aiohttp_client(app)
    ws, _ = await open_protocol_client(client)
    for bad_position in ("99", "-1", "abc"):
        resumed, _ = await open_protocol_client(client, last_seq=bad_position)
        reset = await receive_frame(resumed)
        assert reset["type"] == "reset"
        assert reset["seq"] == 0
        await resumed.close()
    await ws.close()


async def test_a_new_tab_starts_from_the_latest_number(aiohttp_client: AiohttpClient) -> None:
    app = create_app(Settings(port=0), Echo)
    client = await aiohttp_client(app)
    first_tab, _ = await open_protocol_client(client)
    await app[PROXY_OUT].to_session(session_id_of(client), "before")
    second_tab, second_welcome = await open_protocol_client(client)
    assert second_welcome["seq"] == 1
    await app[PROXY_OUT].to_session(session_id_of(client), "after")
    assert await receive_frame(second_tab) == {"type": "message", "seq": 2, "data": "after"}
    await first_tab.close()
    await second_tab.close()


async def test_history_is_kept_once_a_protocol_client_has_joined(
    aiohttp_client: AiohttpClient,
) -> None:
    app = create_app(Settings(port=0), Echo)
    client = await aiohttp_client(app)
    plain = await client.ws_connect("/ws")  # sees no numbers, so cannot resume: nothing is kept
    (session,) = app[MEMBERS].sessions
    for text in ("one", "two"):
        await app[PROXY_OUT].to_session(session.id, text)
        assert await plain.receive_str(timeout=REPLY_TIMEOUT) == text

    ws, _ = await open_protocol_client(client, last_seq=0)  # same cookie, same session
    assert session_id_of(client) == session.id
    assert await receive_frame(ws) == {"type": "gap", "from": 1, "to": 2}
    await ws.close()
    await app[PROXY_OUT].to_session(session.id, "three")
    resumed, _ = await open_protocol_client(client, last_seq=2)
    assert await receive_frame(resumed) == {"type": "message", "seq": 3, "data": "three"}
    await resumed.close()
    await plain.close()


async def test_stream_survives_many_cuts_exactly_once() -> None:
    """Cut at random points while the stream flows, resume at once or after a pause: each
    message arrives once, in order, and no gap is announced (the buffer holds them all)."""
    plan = CutPlan.draw(STREAM_LENGTH, CUTS, MAX_PAUSE)
    client = ResumingClient()
    last_text = f"notify {STREAM_LENGTH}"
    streaming = (
        "--notify-channel=",
        "--notify-interval",
        STREAM_INTERVAL,
        "--notify-count",
        str(STREAM_LENGTH),
    )
    with running_server(*streaming, logic="Echo") as server:
        for received, pause in plan.cuts:
            await client.connect(server.ws_url)
            await client.read_until(count=received, last_text=last_text)
            client.cut()
            await asyncio.sleep(pause)
        await client.connect(server.ws_url)
        await client.read_until(last_text=last_text)
        assert client.ws is not None
        await client.ws.close()

    first = int(client.messages[0][1].removeprefix("notify "))  # the stream began with the server
    expected = [f"notify {number}" for number in range(first, STREAM_LENGTH + 1)]
    client.assert_exactly_once(expected, plan)
