"""The error that stops the server before it serves: the port is taken, a backend is away."""

from __future__ import annotations

__all__ = ["StartupError"]


class StartupError(RuntimeError):
    """The server could not start; the message says why, in one line."""
