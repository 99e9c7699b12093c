"""Logics the machinery's tests serve, so that none of them depends on what ``logic.py`` answers.

``python -m tests.serve <name> [flags]`` serves one of them in a real process
(see ``running_server(..., logic=<name>)``); in-process tests pass the class to
``create_app(settings, <class>)``.
"""

from __future__ import annotations

import asyncio

{% if cookiecutter.multi_session -%}
from {{ cookiecutter.package_name }}.api import Client, ProxyOut, Session
{%- else -%}
from {{ cookiecutter.package_name }}.api import Client, ProxyOut
{%- endif %}

from .walkthrough import chat_logic

__all__ = [
    "FAILURE",
    "Chat",
    "Echo",
    "Failing",
{%- if cookiecutter.multi_session %}
    "SessionEcho",
{%- endif %}
    "Streams",
]

FAILURE = "fail"  # the message Failing raises on


class Echo:
    """Sends every message back to the client that sent it, and to it only."""

    def __init__(self, out: ProxyOut) -> None:
        self.out = out

    async def on_connect(self, client: Client) -> None:
        pass

    async def on_message(self, client: Client, text: str) -> None:
        await client.send(text)

    async def on_disconnect(self, client: Client) -> None:
        pass
{%- if cookiecutter.multi_session %}

    async def on_session_start(self, session: Session) -> None:
        pass

    async def on_session_end(self, session: Session) -> None:
        pass


class SessionEcho(Echo):
    """Sends every message back to every tab of the sender's session, numbered."""

    async def on_message(self, client: Client, text: str) -> None:
        await self.out.to_session(client.session.id, text)
{%- endif %}


class Failing(Echo):
    """Echoes, but raises on :data:`FAILURE`, as a logic with a bug would."""

    async def on_message(self, client: Client, text: str) -> None:
        if text == FAILURE:
            raise RuntimeError("a bug in the logic")
        await super().on_message(client, text)


class Streams(Echo):
    """Echoes; ``stream <count> <interval> <channel>...`` publishes on channels, then says so.

    It publishes ``<channel> <n>`` on each channel in turn for n = 1..count, a
    round every ``interval`` seconds, and answers ``streamed`` when done.
    ``paced <count> <interval> <channel>...`` does the same with each round's
    publishes spread evenly over its interval, for a steady rate.
    """

    def __init__(self, out: ProxyOut) -> None:
        super().__init__(out)
        self._streams: set[asyncio.Task[None]] = set()

    async def on_message(self, client: Client, text: str) -> None:
        command, *args = text.split()
        if command not in ("stream", "paced"):
            await super().on_message(client, text)
            return
        count, interval, *channels = args
        spread = command == "paced"
        task = asyncio.create_task(
            self._stream(client, int(count), float(interval), channels, spread=spread)
        )
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)

    async def _stream(
        self, client: Client, count: int, interval: float, channels: list[str], *, spread: bool
    ) -> None:
        loop = asyncio.get_running_loop()
        due = loop.time()
        step = interval / len(channels) if spread else 0.0  # from one publish to the next
        for number in range(1, count + 1):
            for channel in channels:
                await self.out.publish(channel, f"{channel} {number}")
                due += step
                if spread and (ahead := due - loop.time()) > 0:  # behind: no pause, it catches up
                    await asyncio.sleep(ahead)
            due += interval - step * len(channels)
            await asyncio.sleep(max(due - loop.time(), 0))
        await client.send("streamed")


Chat = chat_logic()  # the README's walk-through, as the README shows it
