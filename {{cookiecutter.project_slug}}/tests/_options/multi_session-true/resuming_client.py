"""A client that resumes as the page does, cut at random points, and the promise it checks.

The promise: after any sequence of abrupt cuts and resumes, a client's
numbered messages each arrive once, in order, and a ``gap`` names only numbers
that never arrive. :class:`ResumingClient` keeps everything it was sent, so a
test can check exactly that (:meth:`ResumingClient.assert_exactly_once`).
:class:`CutPlan` draws where to cut from a number that every failure prints:
``STRESS_PLAN=<number>`` replays the same run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .cookies import cookie_header, session_id_of
from .support import PAGE

__all__ = ["PAGE", "CutPlan", "ResumingClient"]

READ_TIMEOUT = 10.0


@dataclass(frozen=True)
class CutPlan:
    """Where a run cuts its client, drawn from ``number``: after how many messages, then how
    long it waits before it reconnects (0: at once)."""

    number: int
    cuts: list[tuple[int, float]]

    @classmethod
    def draw(cls, stream_length: int, cuts: int, max_pause: float) -> CutPlan:
        """``cuts`` points of a ``stream_length`` stream; every other resume waits a little."""
        number = int(os.environ.get("STRESS_PLAN") or random.randrange(1 << 32))
        rng = random.Random(number)
        points = sorted(rng.sample(range(1, stream_length), cuts))
        pauses = [0.0 if index % 2 == 0 else rng.uniform(0.01, max_pause) for index in range(cuts)]
        return cls(number, list(zip(points, pauses, strict=True)))

    def __str__(self) -> str:
        return f"STRESS_PLAN={self.number}"


@dataclass
class ResumingClient:
    """A protocol client that keeps its session cookie and resumes from the last number it saw."""

    messages: list[tuple[int, str]] = field(default_factory=list)
    gaps: list[tuple[int, int]] = field(default_factory=list)
    resets: list[dict[str, Any]] = field(default_factory=list)
    last_seq: int | None = None
    cookie: dict[str, str] = field(default_factory=dict)
    ws: ClientConnection | None = None

    async def connect(self, ws_url: str) -> None:
        """Open a connection, resuming if this client has seen a position before."""
        resume = "" if self.last_seq is None else f"?last_seq={self.last_seq}"
        self.ws = await connect(ws_url + resume, subprotocols=PAGE, additional_headers=self.cookie)
        if not self.cookie:
            self.cookie = cookie_header(session_id_of(self.ws))

    def cut(self) -> None:
        """Drop the connection as a cut cable does: no close frame, nothing more read."""
        assert self.ws is not None
        self.ws.transport.abort()

    async def read_until(self, count: int | None = None, last_text: str | None = None) -> None:
        """Read until ``count`` messages in all have arrived, or the one reading ``last_text``."""
        assert self.ws is not None
        while not self._reached(count, last_text):
            raw = await asyncio.wait_for(self.ws.recv(), READ_TIMEOUT)
            self._record(json.loads(raw))

    async def read_until_closed(self) -> None:
        """Read what is still on its way from a server that went away, until the socket closes."""
        assert self.ws is not None
        try:
            while True:
                self._record(json.loads(await asyncio.wait_for(self.ws.recv(), READ_TIMEOUT)))
        except ConnectionClosed:
            pass

    def _reached(self, count: int | None, last_text: str | None) -> bool:
        if count is not None and len(self.messages) >= count:
            return True
        return last_text is not None and bool(self.messages) and self.messages[-1][1] == last_text

    def _record(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "welcome":
            if self.last_seq is None:
                self.last_seq = frame["seq"]  # a new client starts from now, as the page does
        elif kind == "message":
            self.messages.append((frame["seq"], frame["data"]))
            self.last_seq = frame["seq"]
        elif kind == "gap":
            self.gaps.append((frame["from"], frame["to"]))
        elif kind == "reset":
            self.resets.append(frame)
            self.last_seq = frame["seq"]
        else:
            raise AssertionError(f"unexpected frame {frame}")

    def assert_exactly_once(self, expected: list[str], context: object) -> None:
        """Each numbered message came once, in order, ``expected`` is what came, and no gap
        named a number that did arrive. ``context`` (the plan) goes into every failure."""
        seqs = [seq for seq, _ in self.messages]
        twice = sorted(seq for seq, times in Counter(seqs).items() if times > 1)
        assert not twice, f"{context}: delivered twice: {twice[:10]}"
        assert seqs == sorted(seqs), f"{context}: out of order"
        false_gaps = [(a, b) for a, b in self.gaps if any(a <= seq <= b for seq in seqs)]
        assert not false_gaps, f"{context}: gaps for numbers that then arrived: {false_gaps}"
        assert not self.resets, f"{context}: resets: {self.resets}"
        texts = [text for _, text in self.messages]
        assert texts == expected, f"{context}: {len(texts)} messages, {len(expected)} expected"
