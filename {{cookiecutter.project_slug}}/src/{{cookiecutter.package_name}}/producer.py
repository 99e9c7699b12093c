"""Background producers: push to clients without being asked.

The streaming example broadcasts ``notify 1``, ``notify 2``, ... every
``--notify-interval`` seconds (off by default), ``--notify-count`` times
(0: forever). A real app would read a queue, a database feed or a market-data
socket here and push what it gets through the outgoing proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator

from aiohttp import web

from .proxy_out import ProxyOut
from .state import PROXY_OUT, SETTINGS

__all__ = ["notify_every", "run_producers"]


async def notify_every(out: ProxyOut, interval: float, count: int) -> None:
    """Broadcast ``notify <n>`` every ``interval`` seconds, ``count`` times (0: forever)."""
    numbers = range(1, count + 1) if count > 0 else itertools.count(1)
    for number in numbers:
        await asyncio.sleep(interval)
        await out.broadcast(f"notify {number}")


async def run_producers(app: web.Application) -> AsyncIterator[None]:
    """Run the producers for the application's lifetime (an aiohttp cleanup context)."""
    settings = app[SETTINGS]
    if settings.notify_interval <= 0:
        yield
        return
    producer = notify_every(app[PROXY_OUT], settings.notify_interval, settings.notify_count)
    task = asyncio.create_task(producer)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
