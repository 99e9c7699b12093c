"""Your app's settings: read by your code, set like the server's (environment, flags).

Add a field to :class:`AppSettings` and it is a setting: ``--your-field`` on
the command line, ``{{ cookiecutter.package_name | upper }}_YOUR_FIELD`` in the environment, shown by
``--help``, checked at start-up (by the type of its default, or the check
given: ``integer``, ``number``, ``one_of``, ``url``, ``verbatim``). Your hooks read
it from the ``Settings`` they are given.
"""

from __future__ import annotations

import dataclasses

from ..core.channels import check_channel_name
from ..core.settings import Check, setting, verbatim

__all__ = ["NOTIFICATIONS", "AppSettings"]

NOTIFICATIONS = "notifications"  # the channel of the streaming example, the page follows it


def channel_or_nothing(text: str) -> str:
    """A channel name, or empty."""
    return check_channel_name(text) if text else text


@dataclasses.dataclass(frozen=True)
class AppSettings:
    """The settings of the streaming example (``producer.py``) and of ``auth.py``."""

    notify_interval: float = setting(
        0.0, "seconds between the streaming example's 'notify' broadcasts; 0 turns it off"
    )
    notify_channel: str = setting(
        NOTIFICATIONS,
        "channel the streaming example publishes on (the page follows it); empty: it broadcasts"
        " to every client instead",
        Check(channel_or_nothing, "CHANNEL"),
    )
    notify_count: int = setting(0, "stop the streaming example after this many; 0: never")
    notify_size: int = setting(
        0, "pad each 'notify' message to this many characters (payload size for load tests)"
    )
    notify_after_clients: int = setting(
        0,
        "the streaming example waits until this many websocket clients are connected to this"
        " process before its first message; 0: it starts at once",
    )
    auth_secret: str = setting(
        "",
        "secret that signs the example's tokens (app/auth.py); empty: everyone is let in"
        " anonymously. Set it in the environment: a flag shows in the process list",
        Check(verbatim, "SECRET"),
    )
