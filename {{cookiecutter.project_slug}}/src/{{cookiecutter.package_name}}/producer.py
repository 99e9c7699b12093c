"""Background producers: push to clients without being asked.

The streaming example broadcasts ``notify 1``, ``notify 2``, ... every
``--notify-interval`` seconds (off by default), ``--notify-count`` times
(0: forever), each padded to ``--notify-size`` characters. With
``--notify-after-clients N`` it waits until N websocket clients are connected
to this process before its first message, so a test or a demo sees the stream
from ``notify 1``. A real app would read a queue, a database feed or a
market-data socket here and push what it gets through the outgoing proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from .proxy_out import ProxyOut
from .state import AUDIENCE, PROXY_OUT, SETTINGS, Audience

__all__ = ["notify_every", "run_producers"]

logger = logging.getLogger(__name__)


async def notify_every(
    out: ProxyOut, interval: float, count: int, size: int = 0, audience: Audience | None = None
) -> None:
    """Broadcast ``notify <n>`` (padded to ``size``) every ``interval`` s, ``count`` times.

    A ``count`` of 0 means forever. Like a timer, it keeps to the schedule and,
    when it falls behind, carries on from now rather than bursting to catch up.
    Given an ``audience``, it first waits until that many clients are connected.
    """
    if audience is not None and audience.waiting:
        logger.info("streaming example: waiting for clients (%d needed)", audience.needed)
        await audience.gathered()
        logger.info("streaming example: starting, its audience of %d is connected", audience.needed)
    loop = asyncio.get_running_loop()
    numbers = range(1, count + 1) if count > 0 else itertools.count(1)
    due = loop.time()
    for number in numbers:
        due = max(due + interval, loop.time())
        await asyncio.sleep(due - loop.time())
        await out.broadcast(f"notify {number}".ljust(size, "."))


async def run_producers(app: web.Application) -> AsyncIterator[None]:
    """Run the producers for the application's lifetime (an aiohttp cleanup context)."""
    settings = app[SETTINGS]
    if settings.notify_interval <= 0:
        yield
        return
    producer = notify_every(
        app[PROXY_OUT],
        settings.notify_interval,
        settings.notify_count,
        settings.notify_size,
        app[AUDIENCE],
    )
    task = asyncio.create_task(producer)
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
