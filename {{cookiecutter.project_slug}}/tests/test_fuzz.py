"""Fuzzing: no input crashes {% if cookiecutter.multi_session %}the frame parser or {% endif %}the server, or disturbs another client.

Hypothesis makes up what an attacker sends: arbitrary text, bytes in text and
binary frames, oversized and deeply nested frames{% if cookiecutter.multi_session %}, JSON objects of random shape,
with and without the subprotocol{% endif %}. Whatever it is, the attacker's
connection either keeps working or is closed with a documented code, and
another client is still answered by a live server that logged no traceback.
The server serves :class:`~tests.apps.Echo`: a client that is still served
gets its probe back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close
{%- if cookiecutter.multi_session %}

from {{ cookiecutter.package_name }}.core.protocol import (
    SUBPROTOCOL,
    ClientFrame,
    ProtocolError,
    parse_client_frame,
)
{%- endif %}

from .running_server import ServerProcess, running_server
from .support import REPLY_TIMEOUT

MAX_MESSAGE_SIZE = 64 * 1024  # the server's default --max-message-size
# The close codes the README documents for bad input: binary frame, invalid UTF-8, too many bad
# frames, too big.
DOCUMENTED_CLOSE_CODES = {1003, 1007, 1008, 1009}
DEEPLY_NESTED = "[" * 5000  # deeper than Python's recursion limit
PROBE = "are you still there?"  # sent after the attack: Echo sends it back

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Objects shaped like client frames, with fields of any type.
frame_objects = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "heartbeat", "welcome", "error"]) | json_values},
    optional={"data": json_values, "seq": json_values},
)
# What an attacker sends: ("text", str), ("raw", bytes) in a text frame, or ("binary", bytes).
Frame = tuple[str, Any]
frames: st.SearchStrategy[Frame] = st.one_of(
    st.tuples(st.just("text"), st.text(max_size=300)),
    st.tuples(st.just("text"), frame_objects.map(json.dumps)),
    st.tuples(st.just("raw"), st.binary(max_size=300)),
    st.tuples(st.just("binary"), st.binary(max_size=300)),
    st.tuples(st.just("text"), st.integers(1, 5000).map(lambda depth: "[" * depth)),
    st.just(("text", "x" * (MAX_MESSAGE_SIZE + 1))),
)

{%- if cookiecutter.multi_session %}


@given(st.text())
@example(DEEPLY_NESTED)
@settings(max_examples=500, deadline=None)
def test_parser_returns_a_frame_or_a_protocol_error_for_any_text(text: str) -> None:
    assert_frame_or_protocol_error(text)


@given(json_values | frame_objects)
@settings(max_examples=500, deadline=None)
def test_parser_returns_a_frame_or_a_protocol_error_for_any_json(value: object) -> None:
    assert_frame_or_protocol_error(json.dumps(value))


@given(st.sampled_from(["message", "heartbeat"]), st.text())
@settings(max_examples=100, deadline=None)
def test_parser_keeps_the_text_of_well_formed_frames(kind: str, data: str) -> None:
    frame = parse_client_frame(json.dumps({"type": kind, "data": data}))
    assert frame == (
        ClientFrame("message", data) if kind == "message" else ClientFrame("heartbeat")
    )


def assert_frame_or_protocol_error(text: str) -> None:
    try:
        frame = parse_client_frame(text)
    except ProtocolError:
        return
    assert frame.type in ("message", "heartbeat")
    assert isinstance(frame.data, str)
{%- endif %}


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[ServerProcess]:
    with running_server("--rate-limit", "0", logic="Echo") as server:
        yield server


async def send_frame(ws: ClientConnection, frame: Frame) -> None:
    kind, payload = frame
    if kind == "raw":
        await ws.send(payload, text=True)  # bytes as a text frame: maybe not UTF-8
    else:
        await ws.send(payload)  # str: a text frame, bytes: a binary frame
{%- if cookiecutter.multi_session %}


def is_probe(frame: str | bytes, subprotocol: bool) -> bool:
    """Whether ``frame`` is Echo's answer to the probe (to one connection: a direct frame)."""
    if not subprotocol:
        return frame == PROBE
    decoded = json.loads(frame)
    return bool(decoded.get("type") == "direct" and decoded.get("data") == PROBE)


async def attack(url: str, sent: list[Frame], subprotocol: bool) -> None:
    """Send ``sent``, then a probe: it must be answered, or closed for a documented reason."""
    options: dict[str, Any] = {"subprotocols": [SUBPROTOCOL]} if subprotocol else {}
    probe = json.dumps({"type": "message", "data": PROBE}) if subprotocol else PROBE
    async with connect(url, **options) as attacker:
        close: Close | None = None
        try:
            for frame in sent:
                await send_frame(attacker, frame)
            # Still open: it must still be served, after whatever replies the frames got.
            await attacker.send(probe)
            deadline = time.monotonic() + REPLY_TIMEOUT
            while not is_probe(await asyncio.wait_for(attacker.recv(), REPLY_TIMEOUT), subprotocol):
                assert time.monotonic() < deadline, "no answer for the attacker"
        except ConnectionClosed as closed:
            close = closed.rcvd
    # The server closed it with a code that says why. (An attacker still sending by then may
    # instead see the reset of a socket closed with its data unread, before the close frame.)
    assert close is None or close.code in DOCUMENTED_CLOSE_CODES, close
{%- else %}


async def attack(url: str, sent: list[Frame]) -> None:
    """Send ``sent``, then a probe: it must be answered, or closed for a documented reason."""
    async with connect(url) as attacker:
        close: Close | None = None
        try:
            for frame in sent:
                await send_frame(attacker, frame)
            # Still open: it must still be served, after whatever replies the frames got.
            await attacker.send(PROBE)
            deadline = time.monotonic() + REPLY_TIMEOUT
            while await asyncio.wait_for(attacker.recv(), REPLY_TIMEOUT) != PROBE:
                assert time.monotonic() < deadline, "no answer for the attacker"
        except ConnectionClosed as closed:
            close = closed.rcvd
    # The server closed it with a code that says why. (An attacker still sending by then may
    # instead see the reset of a socket closed with its data unread, before the close frame.)
    assert close is None or close.code in DOCUMENTED_CLOSE_CODES, close
{%- endif %}


async def assert_served(url: str) -> None:
    async with connect(url) as bystander:
        await bystander.send(PROBE)
        assert await asyncio.wait_for(bystander.recv(), REPLY_TIMEOUT) == PROBE


{%- if cookiecutter.multi_session %}


@given(sent=st.lists(frames, min_size=1, max_size=8), subprotocol=st.booleans())
@example(sent=[("text", DEEPLY_NESTED)], subprotocol=True)
@settings(max_examples=150, deadline=None)
def test_no_input_disturbs_the_server_or_another_client(
    fuzz_server: ServerProcess, sent: list[Frame], subprotocol: bool
) -> None:
    asyncio.run(attack(fuzz_server.ws_url, sent, subprotocol))
{%- else %}


@given(sent=st.lists(frames, min_size=1, max_size=8))
@example(sent=[("text", DEEPLY_NESTED)])
@settings(max_examples=150, deadline=None)
def test_no_input_disturbs_the_server_or_another_client(
    fuzz_server: ServerProcess, sent: list[Frame]
) -> None:
    asyncio.run(attack(fuzz_server.ws_url, sent))
{%- endif %}
    asyncio.run(assert_served(fuzz_server.ws_url))
    assert fuzz_server.process.poll() is None
    assert "Traceback" not in fuzz_server.log()
