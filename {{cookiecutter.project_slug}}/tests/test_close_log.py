"""The close line of each connection logs the code that went on the wire, whoever sent it."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable

import pytest
from websockets.asyncio.client import ClientConnection, connect

from .running_server import running_server

TIMEOUT = 5.0
MAX_MESSAGE_SIZE = 16
CLOSE_LINE = re.compile(r"close .*conn=1 .*code=(?P<code>\S+) reason=(?P<reason>.*)")
# Client frames, written raw: masked (with a zero mask), as a client's must be.
CLOSE_WITHOUT_CODE = b"\x88\x80\x00\x00\x00\x00"
TEXT_WITH_RESERVED_BIT = b"\xc1\x80\x00\x00\x00\x00"  # RSV1 set, no extension negotiated

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
        await ws.send("ping")


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
    with running_server(*limits) as server:
        ws = await connect(server.ws_url)
        await action(ws)
        line = await wait_for_close_line(server.log)
        ws.transport.abort()
        assert "Traceback" not in server.log()
    assert line["code"] == code, line.string


async def wait_for_close_line(log: Callable[[], str]) -> re.Match[str]:
    for _ in range(int(TIMEOUT / 0.02)):
        if match := CLOSE_LINE.search(log()):
            return match
        await asyncio.sleep(0.02)
    raise AssertionError(f"no close line:\n{log()}")
