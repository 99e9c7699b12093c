"""Per-connection limits on what a client may send: a message rate and a budget of mistakes."""

from __future__ import annotations

import time

__all__ = ["TokenBucket"]


class TokenBucket:
    """Allows ``rate`` events a second on average, ``burst`` at once; a rate of 0 allows all."""

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int) -> None:
        self._rate = rate
        self._burst = float(max(burst, 1))
        self._tokens = self._burst
        self._updated = time.monotonic()

    def allow(self) -> bool:
        """Take one token if there is one; say whether the event may go ahead."""
        if self._rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
