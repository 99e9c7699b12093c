"""Background producers: push to clients without being asked.

The streaming example broadcasts ``notify`` every ``--notify-interval``
seconds (off by default). A real app would read a queue, a database feed or a
market-data socket here and push what it gets through the outgoing proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from .proxy_out import ProxyOut
from .state import PROXY_OUT, SETTINGS

__all__ = ["notify_every", "run_producers"]


async def notify_every(out: ProxyOut, interval: float) -> None:
    """Broadcast ``notify`` every ``interval`` seconds, forever."""
    while True:
        await asyncio.sleep(interval)
        await out.broadcast("notify")


async def run_producers(app: web.Application) -> AsyncIterator[None]:
    """Run the producers for the application's lifetime (an aiohttp cleanup context)."""
    interval = app[SETTINGS].notify_interval
    if interval <= 0:
        yield
        return
    task = asyncio.create_task(notify_every(app[PROXY_OUT], interval))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
