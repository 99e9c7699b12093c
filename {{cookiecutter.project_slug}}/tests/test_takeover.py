"""The contract with aiohttp's internals that ``core/takeover.py`` relies on, checked as it
stands in the installed release: each test fails loudly when a release changes one of them.

After the handshake aiohttp must keep nothing of the connection, the bytes a
client sends along with its upgrade request must be served, and pings and the
closing handshake must follow RFC 6455 on the handed-over socket.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import struct
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from pytest_aiohttp import AiohttpServer
from websockets.asyncio.client import connect

from {{ cookiecutter.package_name }} import Settings, create_app
from {{ cookiecutter.package_name }}.core.frame_parsers import PARSERS

from .apps import Echo
from .support import REPLY_TIMEOUT

MASK = b"\x00\x00\x00\x00"  # a client's frames must be masked; a zero mask keeps them readable


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked, final client frame (payloads under 126 bytes)."""
    return struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload)) + MASK + payload


def upgrade_request(port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


@pytest.fixture(params=list(PARSERS))
def frame_parser(request: pytest.FixtureRequest) -> str:
    """Each test that serves runs with each ``--frame-parser``."""
    name: str = request.param
    return name


async def serve_echo(aiohttp_server: AiohttpServer, frame_parser: str) -> TestServer:
    return await aiohttp_server(create_app(Settings(port=0, frame_parser=frame_parser), Echo))


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """The opcode and payload of the next server frame (unmasked, under 126 bytes)."""
    first, length = await asyncio.wait_for(reader.readexactly(2), REPLY_TIMEOUT)
    return first & 0x0F, await reader.readexactly(length)


@contextlib.asynccontextmanager
async def raw_upgrade(
    server: TestServer, *first_frames: bytes
) -> AsyncIterator[asyncio.StreamReader]:
    """Open a websocket by hand, sending ``first_frames`` in the same write as the request."""
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(upgrade_request(server.port) + b"".join(first_frames))
        response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REPLY_TIMEOUT)
        assert response.startswith(b"HTTP/1.1 101 ")
        yield reader
    finally:
        writer.close()


async def test_aiohttp_keeps_no_request_handler_for_an_open_websocket(
    aiohttp_server: AiohttpServer, frame_parser: str
) -> None:
    server = await serve_echo(aiohttp_server, frame_parser)
    assert server.runner is not None
    assert server.runner.server is not None
    async with connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT) == "ping"
        assert server.runner.server.connections == []


async def test_frames_sent_with_the_upgrade_request_are_served(
    aiohttp_server: AiohttpServer, frame_parser: str
) -> None:
    server = await serve_echo(aiohttp_server, frame_parser)
    frames = client_frame(0x1, b"first"), client_frame(0x1, b"second")
    async with raw_upgrade(server, *frames) as reader:
        assert await read_frame(reader) == (0x1, b"first")
        assert await read_frame(reader) == (0x1, b"second")


async def test_a_ping_is_answered_with_its_payload(
    aiohttp_server: AiohttpServer, frame_parser: str
) -> None:
    server = await serve_echo(aiohttp_server, frame_parser)
    async with raw_upgrade(server, client_frame(0x9, b"are you there")) as reader:
        assert await read_frame(reader) == (0xA, b"are you there")


async def test_a_close_is_answered_with_its_code_and_the_socket_closed(
    aiohttp_server: AiohttpServer, frame_parser: str
) -> None:
    server = await serve_echo(aiohttp_server, frame_parser)
    async with raw_upgrade(server, client_frame(0x8, struct.pack("!H", 4000))) as reader:
        opcode, payload = await read_frame(reader)
        assert (opcode, payload[:2]) == (0x8, struct.pack("!H", 4000))
        assert await asyncio.wait_for(reader.read(), REPLY_TIMEOUT) == b""  # the server closed


async def test_a_bad_handshake_is_refused_by_aiohttp_before_any_upgrade(
    aiohttp_server: AiohttpServer, frame_parser: str
) -> None:
    server = await serve_echo(aiohttp_server, frame_parser)
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    request = upgrade_request(server.port).replace(b"Version: 13", b"Version: 8")
    writer.write(request)
    try:
        status_line = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 400 ")
