"""Channels: each followed channel arrives exactly once and in order, across any cut.

The stress test cuts a client at random points of three interleaved streams
(seeded: a failure prints ``CHANNEL_PLAN=<n>``, which replays the same cuts)
and checks every followed channel message by message. The others prove the
edges: a history that ran out gives a gap for that channel only, refusals are
error frames that leave the connection open, and limits hold.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import ANY

import pytest
from aiohttp import ClientWebSocketResponse, web
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import ClientConnection, connect

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.api import Client
from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL
from {{ cookiecutter.package_name }}.core.state import PROXY_OUT

from .apps import Echo, Streams
from .running_server import ServerProcess, running_server
from .support import PAGE, next_frame, received_frame

TIMEOUT = 10.0  # seconds any one frame may take
STREAM_LENGTH = 1000  # messages per channel
STREAM_INTERVAL = "0.002"  # seconds between rounds (one message on each channel)
CUTS = 5
SLOW_TEST_INTERVAL = "0.0005"  # seconds between messages: 2,000 a second, 5,000 in all
SLOW_RECEIVE_BUFFER = 4096  # the slow follower's socket: small, so it really stops reading
SLOW_DROPPED = re.compile(r"close .*code=1013 reason='send queue overflow")


@dataclass
class Follower:
    """A protocol client that follows channels and resumes each from the last number it saw,
    naming the numbering (epoch) that number belongs to."""

    url: str
    channels: tuple[str, ...]
    received: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    epochs: dict[str, str | None] = field(default_factory=dict)  # None: not known
    refused: list[dict[str, Any]] = field(default_factory=list)  # gaps, resets and errors
    ws: ClientConnection | None = None

    async def connect(self) -> None:
        """Connect (again), naming every channel's position; subscribe on the first time."""
        since = "&".join(f"since={self.position(channel)}" for channel in self.positions)
        self.ws = await connect(f"{self.url}?{since}" if since else self.url, subprotocols=PAGE)
        assert (await self._frame())["type"] == "welcome"
        if not self.positions:
            for channel in self.channels:
                await self.ws.send(json.dumps({"type": "subscribe", "channel": channel}))

    def position(self, channel: str) -> str:
        """Where ``channel`` resumes, as the URL names it: ``<channel>:<number>@<epoch>``."""
        epoch = self.epochs.get(channel)
        return f"{channel}:{self.positions[channel]}" + ("" if epoch is None else f"@{epoch}")

    async def followed(self) -> None:
        """Read until every channel of this follower is confirmed by its ``subscribed`` frame."""
        while not all(channel in self.epochs for channel in self.channels):
            self._record(await self._frame())

    async def close(self) -> None:
        """Close the connection normally, before the test (and its loop) ends."""
        if self.ws is not None:
            await self.ws.close()

    def cut(self) -> None:
        """Drop the connection abruptly, as a lost network does (no close frame)."""
        assert self.ws is not None
        self.ws.transport.abort()

    async def read(self, count: int) -> None:
        """Read until ``count`` channel messages in all have arrived since the start."""
        while sum(len(messages) for messages in self.received.values()) < count:
            self._record(await self._frame())

    async def _frame(self) -> dict[str, Any]:
        assert self.ws is not None
        return await next_frame(self.ws, TIMEOUT)

    def _record(self, frame: dict[str, Any]) -> None:
        channel = frame.get("channel")
        if frame["type"] == "subscribed":
            self.positions.setdefault(frame["channel"], frame["seq"])
            self.epochs[frame["channel"]] = frame.get("epoch")
        elif frame["type"] == "message" and channel is not None:
            self.received.setdefault(channel, []).append((frame["seq"], frame["data"]))
            self.positions[channel] = frame["seq"]
        elif frame["type"] in ("gap", "reset", "error"):
            self.refused.append(frame)
            if frame["type"] == "reset":
                self.positions[frame["channel"]] = frame["seq"]


def expected(channel: str, numbers: range) -> list[tuple[int, str]]:
    return [(number, f"{channel} {number}") for number in numbers]


async def send_and_wait(url: str, command: str) -> None:
    """Have the Streams logic publish, through a plain client, and wait until it has."""
    async with connect(url) as publisher:
        await publisher.send(command)
        assert await asyncio.wait_for(publisher.recv(), 3 * TIMEOUT) == "streamed"


async def test_followed_channels_arrive_exactly_once_in_order_across_random_cuts() -> None:
    plan = int(os.environ.get("CHANNEL_PLAN") or random.randrange(1 << 32))
    rng = random.Random(plan)
    total = 2 * STREAM_LENGTH  # of the two channels followed
    cuts = sorted(rng.sample(range(1, total), CUTS))
    with running_server("--rate-limit", "0", logic="Streams") as server:
        follower = Follower(server.ws_url, ("alpha", "beta"))
        await follower.connect()
        await follower.read(0)
        await asyncio.sleep(0.2)  # both subscriptions are in before the stream starts
        command = f"stream {STREAM_LENGTH} {STREAM_INTERVAL} alpha beta gamma"
        async with connect(server.ws_url) as publisher:
            await publisher.send(command)
            for index, point in enumerate(cuts):
                await follower.read(point)
                follower.cut()
                if index % 2:
                    await asyncio.sleep(rng.uniform(0.01, 0.2))
                await follower.connect()
            await follower.read(total)
            assert await asyncio.wait_for(publisher.recv(), 3 * TIMEOUT) == "streamed"
        await follower.close()
    context = f"CHANNEL_PLAN={plan}, cuts after {cuts}"
    assert follower.received["alpha"] == expected("alpha", range(1, STREAM_LENGTH + 1)), context
    assert follower.received["beta"] == expected("beta", range(1, STREAM_LENGTH + 1)), context
    assert "gamma" not in follower.received, context
    assert follower.refused == [], context


async def resume_into_a_numbering_anew(server: ServerProcess) -> Follower:
    """A follower that saw alpha's 1..3 resumes after the channel, dropped once nobody followed
    it for ``--channel-history-age`` (0.3 s), was made again and numbered 1..5 anew; then
    one more message is published. Its 3 belongs to the old numbering: it must get a reset
    and the 6th, never the new numbering's 4 and 5."""
    follower = Follower(server.ws_url, ("alpha",))
    await follower.connect()
    await follower.followed()
    await send_and_wait(server.ws_url, "stream 3 0 alpha")
    await follower.read(3)
    follower.cut()
    await asyncio.sleep(1.0)  # more than the history's age: the channel is dropped
    newcomer = Follower(server.ws_url, ("alpha",))
    await newcomer.connect()
    await newcomer.followed()
    await send_and_wait(server.ws_url, "stream 5 0 alpha")
    await newcomer.read(5)
    assert newcomer.epochs["alpha"] != follower.epochs["alpha"]
    await follower.connect()
    await send_and_wait(server.ws_url, "stream 1 0 alpha")
    await follower.read(4)
    await newcomer.close()
    await follower.close()
    return follower


def assert_reset_into_the_new_numbering(follower: Follower) -> None:
    assert follower.refused == [
        {"type": "reset", "channel": "alpha", "reason": "unknown position", "seq": 5}
    ]
    assert follower.received["alpha"] == [*expected("alpha", range(1, 4)), (6, "alpha 1")]


async def test_a_resume_into_a_channel_numbered_anew_gets_a_reset_not_its_numbers() -> None:
    with running_server("--channel-history-age", "0.3", logic="Streams") as server:
        follower = await resume_into_a_numbering_anew(server)
    assert_reset_into_the_new_numbering(follower)


async def test_a_history_that_ran_out_gives_a_gap_for_that_channel_only() -> None:
    with running_server("--channel-history", "10", logic="Streams") as server:
        follower = Follower(server.ws_url, ("alpha", "beta"))
        await follower.connect()
        await send_and_wait(server.ws_url, "stream 1 0 alpha beta")
        await follower.read(2)
        follower.cut()
        await send_and_wait(server.ws_url, "stream 50 0 alpha")  # 2..51: more than it holds
        await send_and_wait(server.ws_url, "stream 5 0 beta")  # 2..6
        await follower.connect()
        await follower.read(2 + 10 + 5)
        await follower.close()
    assert follower.refused == [{"type": "gap", "channel": "alpha", "from": 2, "to": 41}]
    assert [seq for seq, _ in follower.received["alpha"]] == [1, *range(42, 52)]
    assert [seq for seq, _ in follower.received["beta"]] == list(range(1, 7))


async def test_subscribing_since_a_position_replays_the_channels_recent_past() -> None:
    with running_server(logic="Streams") as server:
        first = Follower(server.ws_url, ("room",))
        await first.connect()
        await send_and_wait(server.ws_url, "stream 5 0 room")
        await first.read(5)
        async with connect(server.ws_url, subprotocols=PAGE) as later:
            await later.recv()  # welcome
            await later.send(json.dumps({"type": "subscribe", "channel": "room", "since": 2}))
            frames = [await next_frame(later, TIMEOUT) for _ in range(4)]
        await first.close()
    assert frames[0] == {"type": "subscribed", "channel": "room", "seq": 5, "epoch": ANY}
    assert [(frame["seq"], frame["data"]) for frame in frames[1:]] == expected("room", range(3, 6))


async def test_a_follower_that_cannot_keep_up_is_dropped_and_the_others_get_everything() -> None:
    count = 5000
    with running_server("--send-queue-bytes", "16384", logic="Streams") as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RECEIVE_BUFFER)
        sock.connect(("127.0.0.1", server.port))
        slow = await connect(server.ws_url, sock=sock, subprotocols=PAGE, max_queue=1)
        await slow.recv()  # welcome; from here on it reads nothing
        await slow.send(json.dumps({"type": "subscribe", "channel": "room"}))
        follower = Follower(server.ws_url, ("room",))
        await follower.connect()
        await follower.read(0)
        await asyncio.sleep(0.2)  # both subscriptions are in before the stream starts
        # The follower reads while the stream flows: a healthy client keeps up with a paced
        # stream, whatever else this machine does; the slow one falls behind at once.
        reading = asyncio.create_task(follower.read(count))
        await send_and_wait(server.ws_url, f"stream {count} {SLOW_TEST_INTERVAL} room")
        await asyncio.wait_for(reading, TIMEOUT)
        log = server.log()
        slow.transport.abort()
        await follower.close()
    assert follower.received["room"] == expected("room", range(1, count + 1))
    assert SLOW_DROPPED.search(log), log


async def refuse_secrets(client: Client, channel: str, action: str) -> bool:
    return not channel.startswith("secret")


async def protocol_client(client: Any) -> ClientWebSocketResponse:
    ws: ClientWebSocketResponse = await client.ws_connect("/ws", protocols=(SUBPROTOCOL,))
    assert (await received_frame(ws))["type"] == "welcome"
    return ws


async def test_a_malformed_since_in_the_url_is_an_error_frame_naming_its_channel(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Echo))
    url = "/ws?since=alpha:x&since=beta:3@not%20an%20epoch&since=gamma:0@Xq3"
    ws = await client.ws_connect(url, protocols=(SUBPROTOCOL,))
    assert (await received_frame(ws))["type"] == "welcome"
    refused = [await received_frame(ws), await received_frame(ws)]
    assert [(frame["type"], frame["channel"]) for frame in refused] == [
        ("error", "alpha"),
        ("error", "beta"),
    ]
    assert all("<channel>:<number>@<epoch>" in frame["error"] for frame in refused)
    followed = await received_frame(ws)  # a well-formed one is followed
    assert followed == {"type": "subscribed", "channel": "gamma", "seq": 0, "epoch": ANY}


async def subscribe(ws: ClientWebSocketResponse, channel: str) -> dict[str, Any]:
    await ws.send_str(json.dumps({"type": "subscribe", "channel": channel}))
    return await received_frame(ws)


async def test_an_unauthorised_subscribe_is_an_error_and_gets_nothing_of_the_channel(
    aiohttp_client: AiohttpClient,
) -> None:
    app = create_app(Settings(port=0), Echo, authorize_channel=refuse_secrets)
    client = await aiohttp_client(app)
    ws = await protocol_client(client)
    refused = await subscribe(ws, "secret-plans")
    assert refused == {
        "type": "error",
        "error": "not allowed to subscribe",
        "channel": "secret-plans",
    }
    assert await subscribe(ws, "news") == {
        "type": "subscribed",
        "channel": "news",
        "seq": 0,
        "epoch": ANY,
    }
    await app[PROXY_OUT].publish("secret-plans", "the plans")
    await app[PROXY_OUT].publish("news", "headline")
    assert (await received_frame(ws))["data"] == "headline"  # and nothing of the secret before it
    await ws.send_str(json.dumps({"type": "publish", "channel": "secret-x", "data": "leak"}))
    assert (await received_frame(ws))["error"] == "not allowed to publish"
    await ws.send_str(json.dumps({"type": "message", "data": "still here"}))
    assert await received_frame(ws) == {"type": "direct", "data": "still here"}


@pytest.mark.parametrize(
    "name",
    ["", "with space", "x" * 65, "naïve", "semi;colon"],
    ids=["empty", "space", "long", "accent", "semicolon"],
)
async def test_a_bad_channel_name_is_refused_by_rule(
    aiohttp_client: AiohttpClient, name: str
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Echo))
    ws = await protocol_client(client)
    refused = await subscribe(ws, name)
    assert refused["type"] == "error"
    assert refused["channel"] == name
    assert "1 to 64 of A-Z a-z 0-9" in refused["error"]
    assert await subscribe(ws, "fine/name:1") == {
        "type": "subscribed",
        "channel": "fine/name:1",
        "seq": 0,
        "epoch": ANY,
    }


async def test_a_client_follows_at_most_its_limit_of_channels(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_channels_per_client=2), Echo))
    ws = await protocol_client(client)
    assert (await subscribe(ws, "one"))["type"] == "subscribed"
    assert (await subscribe(ws, "two"))["type"] == "subscribed"
    refused = await subscribe(ws, "three")
    assert refused == {
        "type": "error",
        "error": "a client may follow at most 2 channels",
        "channel": "three",
    }
    await ws.send_str(json.dumps({"type": "unsubscribe", "channel": "one"}))
    assert await received_frame(ws) == {"type": "unsubscribed", "channel": "one"}
    assert (await subscribe(ws, "three"))["type"] == "subscribed"


async def test_a_channel_takes_at_most_its_limit_of_subscribers(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0, max_channel_subscribers=1), Echo))
    first, second = await protocol_client(client), await protocol_client(client)
    assert (await subscribe(first, "room"))["type"] == "subscribed"
    refused = await subscribe(second, "room")
    assert refused["error"] == "a channel may have at most 1 subscribers"


async def test_what_a_client_publishes_reaches_the_channels_followers(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Echo))
    alice, bob = await protocol_client(client), await protocol_client(client)
    await subscribe(alice, "chat")
    await subscribe(bob, "chat")
    await bob.send_str(json.dumps({"type": "publish", "channel": "chat", "data": "hi"}))
    expected_frame = {"type": "message", "channel": "chat", "seq": 1, "data": "hi"}
    assert await received_frame(alice) == expected_frame
    assert await received_frame(bob) == expected_frame


async def test_the_logic_subscribes_and_unsubscribes_a_client(
    aiohttp_client: AiohttpClient, app_with_echo: web.Application
) -> None:
    client = await aiohttp_client(app_with_echo)
    ws = await protocol_client(client)
    await ws.send_str(json.dumps({"type": "message", "data": "hello"}))
    await received_frame(ws)  # the echo: now the client is known to the server
    out = app_with_echo[PROXY_OUT]
    (connection,) = out.connections()
    await out.subscribe(connection, "updates")
    assert await received_frame(ws) == {
        "type": "subscribed",
        "channel": "updates",
        "seq": 0,
        "epoch": ANY,
    }
    await out.publish("updates", "one")
    assert (await received_frame(ws))["data"] == "one"
    await out.unsubscribe(connection, "updates")
    assert await received_frame(ws) == {"type": "unsubscribed", "channel": "updates"}
    await out.publish("updates", "two")
    await ws.send_str(json.dumps({"type": "message", "data": "after"}))
    assert await received_frame(ws) == {"type": "direct", "data": "after"}  # not "two" first


async def test_a_channel_nobody_follows_keeps_nothing() -> None:
    app = create_app(Settings(port=0), Streams)
    await app[PROXY_OUT].publish("nobody", "lost")
    assert app[PROXY_OUT].channels.get("nobody") is None


@pytest.fixture
def app_with_echo() -> web.Application:
    return create_app(Settings(port=0), Echo)


SECRET = "publish-secret"


async def test_a_backend_publishes_over_http_with_the_secret(
    aiohttp_client: AiohttpClient,
) -> None:
    settings = Settings(port=0, publish_secret=SECRET, max_message_size=100)
    client = await aiohttp_client(create_app(settings, Echo))
    ws = await protocol_client(client)
    await subscribe(ws, "prices")
    bearer = {"Authorization": f"Bearer {SECRET}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}):
        refused = await client.post("/channels/prices", data="forged", headers=headers)
        assert refused.status == 401
        assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert (await client.post("/channels/bad%20name", data="x", headers=bearer)).status == 400
    assert (await client.post("/channels/prices", data=b"\xff", headers=bearer)).status == 400
    assert (await client.post("/channels/prices", data="x" * 101, headers=bearer)).status == 413
    published = await client.post("/channels/prices", data="price 42", headers=bearer)
    assert published.status == 204
    assert await received_frame(ws) == {
        "type": "message",
        "channel": "prices",
        "seq": 1,
        "data": "price 42",
    }  # and nothing of the refused ones before it


async def test_publishing_over_http_is_off_without_a_secret(aiohttp_client: AiohttpClient) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), Echo))
    response = await client.post("/channels/prices", data="x", headers={"Authorization": "Bearer "})
    assert response.status == 404
