"""Closing: what was queued for a client goes out first, and the log tells the code on the wire."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from pytest_aiohttp import AiohttpClient
from websockets.asyncio.client import ClientConnection, connect

from {{ cookiecutter.package_name }} import Settings, create_app

from .apps import Echo
from .running_server import running_server
from .support import REPLY_TIMEOUT

MAX_MESSAGE_SIZE = 16
CLOSE_LINE = re.compile(r"close .*conn=1 .*code=(?P<code>\S+) reason=(?P<reason>.*)")
# Client frames, written raw: masked (with a zero mask), as a client's must be.
CLOSE_WITHOUT_CODE = b"\x88\x80\x00\x00\x00\x00"
TEXT_WITH_RESERVED_BIT = b"\xc1\x80\x00\x00\x00\x00"  # RSV1 set, no extension negotiated
CLOSE_WITH_RESERVED_CODE = b"\x88\x82\x00\x00\x00\x00\x03\xee"  # 1006: never on the wire
REPLIES = 2_000
REPLY = "x" * 1024  # 2 MB of replies in all: far more than the sockets' buffers hold
SMALL_RECEIVE_BUFFER = 4096


async def test_what_was_queued_goes_out_before_the_answer_to_a_close(
    aiohttp_client: AiohttpClient,
) -> None:
    """The client sends 2,000 messages and its close, reading nothing meanwhile: the replies
    back up in the server's queue, and every one of them arrives before the close frame."""
    settings = Settings(port=0, rate_limit=0, send_queue_bytes=4 * REPLIES * len(REPLY))
    client = await aiohttp_client(create_app(settings, Echo))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL_RECEIVE_BUFFER)
    sock.connect(("127.0.0.1", client.port))
    ws = await connect(f"ws://127.0.0.1:{client.port}/ws", sock=sock, max_queue=None)
    ws.transport.pause_reading()
    for _ in range(REPLIES):
        await ws.send(REPLY)
    closing = asyncio.create_task(ws.close())
    await asyncio.sleep(0.2)  # the close reaches the server while its replies are queued
    ws.transport.resume_reading()
    received = await asyncio.wait_for(read_to_the_close(ws), REPLY_TIMEOUT)
    await closing
    assert received == [REPLY] * REPLIES
    assert ws.close_code == 1000


async def read_to_the_close(ws: ClientConnection) -> list[str | bytes]:
    """Every message until a normal close (an abnormal one raises)."""
    return [message async for message in ws]


async def test_a_close_frame_with_a_reserved_code_is_a_protocol_error(
    aiohttp_client: AiohttpClient, app: web.Application
) -> None:
    client = await aiohttp_client(app)
    ws = await connect(f"ws://127.0.0.1:{client.port}/ws")
    ws.transport.write(CLOSE_WITH_RESERVED_CODE)
    await ws.wait_closed()
    assert ws.close_code == 1002


Action = Callable[[ClientConnection], Awaitable[None]]


async def close_normally(ws: ClientConnection) -> None:
    await ws.close()


async def close_with_own_code(ws: ClientConnection) -> None:
    await ws.close(4321, "bye")


async def close_without_code(ws: ClientConnection) -> None:
    ws.transport.write(CLOSE_WITHOUT_CODE)


async def cut(ws: ClientConnection) -> None:
    ws.transport.abort()


async def send_too_big(ws: ClientConnection) -> None:
    await ws.send("x" * (MAX_MESSAGE_SIZE + 1))


async def send_invalid_utf8(ws: ClientConnection) -> None:
    await ws.send(b"\xff\xfe", text=True)


async def break_the_protocol(ws: ClientConnection) -> None:
    ws.transport.write(TEXT_WITH_RESERVED_BIT)


async def send_binary(ws: ClientConnection) -> None:
    await ws.send(b"\x00")


async def send_too_fast(ws: ClientConnection) -> None:
    for _ in range(5):
        await ws.send("hello")


@pytest.mark.parametrize(
    ("action", "code"),
    [
        (close_normally, "1000"),
        (close_with_own_code, "4321"),
        (close_without_code, "1005"),
        (cut, "1006"),
        (send_too_big, "1009"),
        (send_invalid_utf8, "1007"),
        (break_the_protocol, "1002"),
        (send_binary, "1003"),
        (send_too_fast, "1008"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
async def test_the_close_line_logs_the_code_on_the_wire(action: Action, code: str) -> None:
    limits = ("--max-message-size", str(MAX_MESSAGE_SIZE), "--rate-limit", "1", "--rate-burst", "2")
    with running_server(*limits, logic="Echo") as server:
        ws = await connect(server.ws_url)
        await action(ws)
        line = await wait_for_close_line(server.log)
        ws.transport.abort()
        assert "Traceback" not in server.log()
    assert line["code"] == code, line.string


async def wait_for_close_line(log: Callable[[], str]) -> re.Match[str]:
    for _ in range(int(REPLY_TIMEOUT / 0.02)):
        if match := CLOSE_LINE.search(log()):
            return match
        await asyncio.sleep(0.02)
    raise AssertionError(f"no close line:\n{log()}")
