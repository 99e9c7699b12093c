"""The page's JSON subprotocol: a welcome, wrapped messages, errors that keep the connection.

What the app sends to the session comes numbered (``message``, kept for a
resume); what it sends to one connection comes unnumbered (``direct``: see
``test_api.py``).
"""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.protocol import (
    SUBPROTOCOL,
    ClientFrame,
    ProtocolError,
    parse_client_frame,
)

from .apps import SessionEcho
from .support import received_frame


@pytest.mark.parametrize(
    ("frame", "problem"),
    [
        ("ping", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"type": "shout"}', "unknown frame type 'shout'"),
        ('{"type": "subscribe"}', "'channel' must be a string"),
        ('{"type": "subscribe", "channel": "a", "since": -1}', "'since' must be a non-negative"),
        ('{"type": "subscribe", "channel": "a", "since": true}', "'since' must be a non-negative"),
        ('{"type": "subscribe", "channel": "a", "since": 4, "epoch": 7}', "'epoch' must be"),
        ('{"type": "subscribe", "channel": "a", "since": 4, "epoch": "a b"}', "'epoch' must be"),
        ('{"type": "publish", "channel": "a"}', "'data' must be a string"),
        ('{"data": "ping"}', "unknown frame type None"),
        ('{"type": "message", "data": 7}', "'data' must be a string"),
    ],
)
def test_malformed_frames_are_named(frame: str, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        parse_client_frame(frame)


def test_message_frame_carries_text() -> None:
    frame = parse_client_frame('{"type": "message", "data": "ping"}')
    assert frame == ClientFrame("message", "ping")


def test_channel_frames_carry_their_channel() -> None:
    subscribe = parse_client_frame('{"type": "subscribe", "channel": "a", "since": 4}')
    assert subscribe == ClientFrame("subscribe", channel="a", since=4)
    resume = parse_client_frame('{"type": "subscribe", "channel": "a", "since": 4, "epoch": "Xq3"}')
    assert resume == ClientFrame("subscribe", channel="a", since=4, epoch="Xq3")
    publish = parse_client_frame('{"type": "publish", "channel": "a", "data": "hi"}')
    assert publish == ClientFrame("publish", "hi", "a")
    assert parse_client_frame('{"type": "unsubscribe", "channel": "a"}').channel == "a"


def test_heartbeat_frame_is_recognised() -> None:
    assert parse_client_frame('{"type": "heartbeat"}') == ClientFrame("heartbeat")


async def test_protocol_client_gets_welcome_then_numbered_session_messages(
    aiohttp_client: AiohttpClient,
) -> None:
    client = await aiohttp_client(create_app(Settings(port=0), SessionEcho))
    async with client.ws_connect("/ws", protocols=(SUBPROTOCOL,)) as ws:
        assert ws.protocol == SUBPROTOCOL
        welcome = await received_frame(ws)
        assert welcome["type"] == "welcome"
        assert set(welcome) == {"type", "seq", "heartbeat"}  # the session id stays in the cookie
        assert welcome["seq"] == 0
        await ws.send_str(json.dumps({"type": "message", "data": "one"}))
        reply = await received_frame(ws)
        assert reply == {"type": "message", "seq": 1, "data": "one"}
        await ws.send_str(json.dumps({"type": "message", "data": "two"}))
        reply = await received_frame(ws)
        assert reply == {"type": "message", "seq": 2, "data": "two"}


async def test_heartbeat_is_answered_without_a_sequence_number(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws", protocols=(SUBPROTOCOL,)) as ws:
        await ws.receive_str(timeout=5)  # welcome
        await ws.send_str(json.dumps({"type": "heartbeat"}))
        assert (await received_frame(ws)) == {"type": "heartbeat"}


async def test_malformed_frame_gets_an_error_and_the_connection_stays_open(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    async with client.ws_connect("/ws", protocols=(SUBPROTOCOL,)) as ws:
        await ws.receive_str(timeout=5)  # welcome
        await ws.send_str("{not json")
        error = await received_frame(ws)
        assert error == {"type": "error", "error": "frame is not valid JSON"}
        await ws.send_str(json.dumps({"type": "message", "data": "hi"}))
        reply = await received_frame(ws)
        assert reply == {"type": "direct", "data": "hi"}
