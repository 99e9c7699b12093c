"""The small JSON protocol that the bundled page speaks, negotiated as a WebSocket subprotocol.

A client that asks for :data:`SUBPROTOCOL` gets every frame wrapped in a JSON
object; a client that does not (``websocat``, the seed's page, a script) keeps
the plain-text exchange: ``ping`` -> ``pong``.

Server to client::

    {"type": "welcome", "session": "<session id>"}
    {"type": "message", "data": "<text>"}
    {"type": "error", "error": "<what was wrong>"}

Client to server::

    {"type": "message", "data": "<text>"}
"""

from __future__ import annotations

import json

__all__ = [
    "SUBPROTOCOL",
    "ProtocolError",
    "encode_error",
    "encode_message",
    "encode_welcome",
    "parse_client_frame",
]

SUBPROTOCOL = "{{ cookiecutter.project_slug }}.v1"


class ProtocolError(ValueError):
    """A client frame that does not follow the protocol; the text says why."""


def encode_welcome(session_id: str) -> str:
    return json.dumps({"type": "welcome", "session": session_id})


def encode_message(text: str) -> str:
    return json.dumps({"type": "message", "data": text})


def encode_error(reason: str) -> str:
    return json.dumps({"type": "error", "error": reason})


def parse_client_frame(frame: str) -> str:
    """Return the text of a client's ``message`` frame, or raise :class:`ProtocolError`."""
    try:
        decoded = json.loads(frame)
    except ValueError:
        raise ProtocolError("frame is not valid JSON") from None
    if not isinstance(decoded, dict):
        raise ProtocolError("frame must be a JSON object")
    if decoded.get("type") != "message":
        raise ProtocolError(f"unknown frame type {decoded.get('type')!r}")
    data = decoded.get("data")
    if not isinstance(data, str):
        raise ProtocolError("field 'data' must be a string")
    return data
