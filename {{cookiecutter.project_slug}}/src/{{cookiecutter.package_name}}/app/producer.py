"""Your background producer: push to clients without being asked.

:func:`run` runs for the server's lifetime and is cancelled at shutdown (with
``--workers``, in the first process only: its broadcasts reach every process's
clients). Start as many tasks from it as your app needs.

The streaming example publishes ``notify 1``, ``notify 2``, ... on the channel
``--notify-channel`` (``notifications``, which the page follows; empty:
broadcast to every client) every ``--notify-interval`` seconds (off by
default), ``--notify-count`` times (0: forever), each padded to
``--notify-size`` characters. With
``--notify-after-clients N`` it waits until N websocket clients are connected
to this process before its first message, so a test or a demo sees the stream
from ``notify 1``. A real app would read a queue, a database feed or a
market-data socket here and push what it gets through the outgoing proxy.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from ..api import Audience, ProxyOut
from ..settings import Settings

__all__ = ["notify_every", "run"]

logger = logging.getLogger(__name__)


async def notify_every(
    out: ProxyOut,
    interval: float,
    count: int,
    size: int = 0,
    audience: Audience | None = None,
    channel: str = "",
) -> None:
    """Publish ``notify <n>`` (padded to ``size``) on ``channel`` every ``interval`` s, ``count``
    times; with no ``channel``, broadcast it.

    A ``count`` of 0 means forever. Like a timer, it keeps to the schedule and,
    when it falls behind, carries on from now rather than bursting to catch up.
    Given an ``audience``, it first waits until that many clients are connected.
    """
    if audience is not None and audience.needed:
        logger.info("streaming example: waiting for clients (%d needed)", audience.needed)
        await audience.gathered()
        logger.info("streaming example: starting, its audience of %d is connected", audience.needed)
    loop = asyncio.get_running_loop()
    numbers = range(1, count + 1) if count > 0 else itertools.count(1)
    due = loop.time()
    for number in numbers:
        due = max(due + interval, loop.time())
        await asyncio.sleep(due - loop.time())
        text = f"notify {number}".ljust(size, ".")
        if channel:
            await out.publish(channel, text)
        else:
            await out.broadcast(text)


async def run(out: ProxyOut, audience: Audience, settings: Settings) -> None:
    """Run the streaming example, if ``--notify-interval`` turns it on."""
    if settings.notify_interval > 0:
        await notify_every(
            out,
            settings.notify_interval,
            settings.notify_count,
            settings.notify_size,
            audience,
            settings.notify_channel,
        )
