"""The small JSON protocol that the bundled page speaks, negotiated as a WebSocket subprotocol.

A client that asks for :data:`SUBPROTOCOL` gets every frame wrapped in a JSON
object: messages of the channels it follows, numbered per channel so that it
can resume each without loss, and what is sent to it alone; it subscribes,
unsubscribes and publishes with frames of its own. A client that does not ask
for it (``websocat``, a script, a page of your own) keeps the plain-text
exchange: ``ping`` -> ``pong``. The generated README documents each frame.
"""

from __future__ import annotations

import json
import re
import reprlib
from typing import Literal, NamedTuple

__all__ = [
    "EPOCH",
    "HEARTBEAT",
    "SUBPROTOCOL",
    "ClientFrame",
    "ProtocolError",
    "encode_direct",
    "encode_error",
    "encode_gap",
    "encode_message",
    "encode_reset",
    "encode_subscribed",
    "encode_unsubscribed",
    "encode_welcome",
    "parse_client_frame",
]

SUBPROTOCOL = "{{ cookiecutter.project_slug }}.v1"
HEARTBEAT = '{"type": "heartbeat"}'
# A channel's numbering: the token its ``subscribed`` frame names, which a resume names back.
EPOCH = re.compile(r"[A-Za-z0-9_\-]{1,32}")


class ProtocolError(ValueError):
    """A client frame that does not follow the protocol; the text says why."""


FrameType = Literal["message", "heartbeat", "subscribe", "unsubscribe", "publish"]
CHANNEL_FRAMES = ("subscribe", "unsubscribe", "publish")


class ClientFrame(NamedTuple):
    """A decoded client frame; ``channel``, ``since`` and ``epoch`` only for the channel frames."""

    type: FrameType
    data: str = ""
    channel: str = ""
    since: int | None = None  # subscribe: replay what the channel holds after this number
    epoch: str | None = None  # the numbering ``since`` belongs to (None: taken on trust)


def encode_welcome(heartbeat: float, seq: int | None = None) -> str:
    """The first frame: the heartbeat interval, and the latest number of the client's own
    stream, if it has one.

    It carries no credential: those stay in HttpOnly cookies, out of reach of the
    page's scripts.
    """
    if seq is None:
        return json.dumps({"type": "welcome", "heartbeat": heartbeat})
    return json.dumps({"type": "welcome", "seq": seq, "heartbeat": heartbeat})


def encode_message(seq: int | None, text: str, channel: str | None = None) -> str:
    """Message ``seq`` of a channel, or of the client's own stream (``channel`` None).

    ``seq`` None: one sent unnumbered, which cannot be resumed.
    """
    if channel is None:
        return json.dumps({"type": "message", "seq": seq, "data": text})
    return json.dumps({"type": "message", "channel": channel, "seq": seq, "data": text})


def encode_direct(text: str) -> str:
    """A message to one connection only: not numbered, so not replayed after a reconnect."""
    return json.dumps({"type": "direct", "data": text})


def encode_gap(first: int, last: int, channel: str | None = None) -> str:
    """Messages ``first``..``last`` (of ``channel``, or of the own stream) are lost: not held."""
    if channel is None:
        return json.dumps({"type": "gap", "from": first, "to": last})
    return json.dumps({"type": "gap", "channel": channel, "from": first, "to": last})


def encode_reset(reason: str, seq: int, channel: str | None = None) -> str:
    """The client's position cannot be resumed at all; it continues after ``seq``."""
    if channel is None:
        return json.dumps({"type": "reset", "reason": reason, "seq": seq})
    return json.dumps({"type": "reset", "channel": channel, "reason": reason, "seq": seq})


def encode_subscribed(channel: str, seq: int, epoch: str | None) -> str:
    """``channel`` is followed; what it replays is numbered up to ``seq``, live ones above.

    ``epoch`` names that numbering: a channel numbered anew (dropped and made
    again, a restart, a store that lost it) has another, so a resume that
    names an old one gets a ``reset``, never numbers of the new one.
    """
    if epoch is None:  # not known (the store that numbers the channel is away)
        return json.dumps({"type": "subscribed", "channel": channel, "seq": seq})
    return json.dumps({"type": "subscribed", "channel": channel, "seq": seq, "epoch": epoch})


def encode_unsubscribed(channel: str) -> str:
    return json.dumps({"type": "unsubscribed", "channel": channel})


def encode_error(reason: str, channel: str | None = None) -> str:
    """The last frame was refused (the connection stays open): why, and for which channel."""
    if channel is None:
        return json.dumps({"type": "error", "error": reason})
    return json.dumps({"type": "error", "error": reason, "channel": channel})


def parse_client_frame(frame: str) -> ClientFrame:
    """Decode a client frame, or raise :class:`ProtocolError` naming what is wrong."""
    try:
        decoded = json.loads(frame)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        raise ProtocolError("frame is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise ProtocolError("frame must be a JSON object")
    kind = decoded.get("type")
    if kind == "heartbeat":
        return ClientFrame("heartbeat")
    if kind == "message":
        return ClientFrame("message", _string(decoded, "data"))
    if kind in CHANNEL_FRAMES:
        return _channel_frame(kind, decoded)
    raise ProtocolError(f"unknown frame type {reprlib.repr(kind)}")


def _channel_frame(kind: FrameType, decoded: dict[str, object]) -> ClientFrame:
    channel = _string(decoded, "channel")
    if kind == "publish":
        return ClientFrame("publish", _string(decoded, "data"), channel)
    since = decoded.get("since")
    if kind == "unsubscribe" or since is None:
        return ClientFrame(kind, channel=channel)
    if type(since) is not int or since < 0:  # not bool, which is an int to isinstance
        raise ProtocolError("field 'since' must be a non-negative integer")
    epoch = decoded.get("epoch")
    if epoch is not None and not (isinstance(epoch, str) and EPOCH.fullmatch(epoch)):
        raise ProtocolError("field 'epoch' must be the one a 'subscribed' frame gave")
    return ClientFrame(kind, channel=channel, since=since, epoch=epoch)


def _string(decoded: dict[str, object], field: str) -> str:
    value = decoded.get(field)
    if not isinstance(value, str):
        raise ProtocolError(f"field {field!r} must be a string")
    return value
