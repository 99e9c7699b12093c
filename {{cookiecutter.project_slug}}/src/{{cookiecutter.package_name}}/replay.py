"""The replay buffer: the latest frames sent to a session, so a reconnect can catch up."""

from __future__ import annotations

import time
from collections import deque

__all__ = ["ReplayBuffer"]


class ReplayBuffer:
    """Keeps at most ``size`` frames, none older than ``max_age`` seconds, by sequence number."""

    __slots__ = ("_entries", "_max_age")

    def __init__(self, size: int, max_age: float) -> None:
        self._entries: deque[tuple[int, float, str]] = deque(maxlen=max(size, 0))
        self._max_age = max_age

    def append(self, seq: int, frame: str) -> None:
        self._entries.append((seq, time.monotonic(), frame))

    def since(self, seq: int) -> list[str]:
        """The frames still held that came after ``seq``: a contiguous run ending at the latest."""
        self._forget_old()
        return [frame for entry_seq, _, frame in self._entries if entry_seq > seq]

    def _forget_old(self) -> None:
        horizon = time.monotonic() - self._max_age
        while self._entries and self._entries[0][1] < horizon:
            self._entries.popleft()
