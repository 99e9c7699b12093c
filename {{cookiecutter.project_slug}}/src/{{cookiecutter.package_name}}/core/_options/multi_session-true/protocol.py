"""The small JSON protocol that the bundled page speaks, negotiated as a WebSocket subprotocol.

A client that asks for :data:`SUBPROTOCOL` gets every frame wrapped in a JSON
object, numbered per session so that it can resume without loss; a client
that does not (``websocat``, a script, a page of your own) keeps the plain-text
exchange: ``ping`` -> ``pong``. The generated README documents each frame.
"""

from __future__ import annotations

import json
import reprlib
from typing import Literal, NamedTuple

__all__ = [
    "HEARTBEAT",
    "SUBPROTOCOL",
    "ClientFrame",
    "ProtocolError",
    "encode_direct",
    "encode_error",
    "encode_gap",
    "encode_message",
    "encode_reset",
    "encode_welcome",
    "parse_client_frame",
]

SUBPROTOCOL = "{{ cookiecutter.project_slug }}.v1"
HEARTBEAT = '{"type": "heartbeat"}'


class ProtocolError(ValueError):
    """A client frame that does not follow the protocol; the text says why."""


class ClientFrame(NamedTuple):
    type: Literal["message", "heartbeat"]
    data: str = ""


def encode_welcome(seq: int, heartbeat: float) -> str:
    """The first frame: the session's latest sequence number and the heartbeat interval.

    It does not carry the session id: that is a credential, kept in an HttpOnly cookie,
    out of reach of the page's scripts.
    """
    return json.dumps({"type": "welcome", "seq": seq, "heartbeat": heartbeat})


def encode_message(seq: int | None, text: str) -> str:
    """A numbered message (``seq`` None: one sent unnumbered, which cannot be resumed)."""
    return json.dumps({"type": "message", "seq": seq, "data": text})


def encode_direct(text: str) -> str:
    """A message to one connection only: not numbered, so not replayed after a reconnect."""
    return json.dumps({"type": "direct", "data": text})


def encode_gap(first: int, last: int) -> str:
    """Messages ``first``..``last`` are no longer in the replay buffer: they are lost."""
    return json.dumps({"type": "gap", "from": first, "to": last})


def encode_reset(reason: str, seq: int) -> str:
    """The client's position cannot be resumed at all; it continues after ``seq``."""
    return json.dumps({"type": "reset", "reason": reason, "seq": seq})


def encode_error(reason: str) -> str:
    return json.dumps({"type": "error", "error": reason})


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
    if kind != "message":
        raise ProtocolError(f"unknown frame type {reprlib.repr(kind)}")
    data = decoded.get("data")
    if not isinstance(data, str):
        raise ProtocolError("field 'data' must be a string")
    return ClientFrame("message", data)
