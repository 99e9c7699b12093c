"""What the tests share: free ports, how long to wait, how the page connects, reading frames."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

from aiohttp import ClientWebSocketResponse
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from {{ cookiecutter.package_name }}.core.protocol import SUBPROTOCOL

__all__ = ["PAGE", "REPLY_TIMEOUT", "SILENCE", "free_port", "next_frame", "received_frame"]

REPLY_TIMEOUT = 5.0  # seconds a reply may take before the test fails
SILENCE = 0.3  # seconds a client must hear nothing to count as "got nothing"
PAGE = [Subprotocol(SUBPROTOCOL)]  # what the page asks for, as a websockets client asks it


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def next_frame(ws: ClientConnection, timeout: float = REPLY_TIMEOUT) -> dict[str, Any]:
    """The next protocol frame a websockets client receives, decoded."""
    frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    return frame


async def received_frame(
    ws: ClientWebSocketResponse, timeout: float = REPLY_TIMEOUT
) -> dict[str, Any]:
    """The next protocol frame an aiohttp client receives, decoded."""
    frame: dict[str, Any] = json.loads(await ws.receive_str(timeout=timeout))
    return frame
