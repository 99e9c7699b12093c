"""The replay buffer: the latest messages of a stream (a channel), so a reconnect can catch up."""

from __future__ import annotations

import time
from collections import deque

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Keeps at most ``size`` messages, none older than ``max_age`` seconds, by sequence number.

    It holds the text, not the encoded frame: most messages are never replayed,
    so they are encoded when they are (and a stream only plain clients follow
    never encodes at all). The deque is made on the first message, since most
    idle streams never get one.
    """

    __slots__ = ("_entries", "_max_age", "_size")

    def __init__(self, size: int, max_age: float) -> None:
        self._entries: deque[tuple[int, float, str]] | None = None
        self._size = max(size, 0)
        self._max_age = max_age

    def append(self, seq: int, text: str) -> None:
        if self._entries is None:
            self._entries = deque(maxlen=self._size)
        self._entries.append((seq, time.monotonic(), text))

    def since(self, seq: int) -> list[tuple[int, str]]:
        """The messages still held that came after ``seq``: a contiguous run ending at the latest."""
        entries = self._entries
        if entries is None:
            return []
        horizon = time.monotonic() - self._max_age
        while entries and entries[0][1] < horizon:
            entries.popleft()
        return [(entry_seq, text) for entry_seq, _, text in entries if entry_seq > seq]
