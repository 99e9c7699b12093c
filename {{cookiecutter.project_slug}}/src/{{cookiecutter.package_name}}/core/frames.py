"""Outgoing frames in their wire form (RFC 6455, section 5.2); a text's, built once per text.

The fast path of ``connection.py`` writes these bytes straight to the socket.
A server's frames are unmasked, so a text frame is a 2-, 4- or 10-byte header
followed by the UTF-8 text, and the same bytes serve every client a text goes
to: a broadcast, or the same reply to many clients, encodes once. aiohttp's
``send_str`` would encode per client and run two coroutines per frame, a cost
a broadcast would pay once for every client.
"""

from __future__ import annotations

import functools
import struct

__all__ = ["PING_FRAME", "binary_frame", "close_frame", "pong_frame", "text_frame"]

_FIN_TEXT = 0x81  # FIN bit set, opcode 1 (text); no extension bits, as compression is off
_FIN_BINARY = 0x82  # FIN bit set, opcode 2 (binary)
_FIN_CLOSE = 0x88
_FIN_PONG = 0x8A
PING_FRAME = b"\x89\x00"  # a ping with no payload: the heartbeat's
_MAX_CONTROL_PAYLOAD = 125  # a control frame's payload limit (RFC 6455, section 5.5)
_PACK_SHORT = struct.Struct("!BB").pack
_PACK_MEDIUM = struct.Struct("!BBH").pack
_PACK_LONG = struct.Struct("!BBQ").pack


@functools.lru_cache(maxsize=1)  # the text just framed: a broadcast frames each text once
def text_frame(text: str) -> bytes:
    """``text`` as one final, unmasked text frame."""
    return _frame(_FIN_TEXT, text.encode())


def binary_frame(data: bytes) -> bytes:
    """``data`` as one final, unmasked binary frame."""
    return _frame(_FIN_BINARY, data)


def close_frame(code: int, reason: str) -> bytes:
    """A close frame with ``code`` and ``reason`` (cut to fit a control frame)."""
    fitted = reason.encode()[: _MAX_CONTROL_PAYLOAD - 2].decode(errors="ignore")  # whole characters
    payload = struct.pack("!H", code) + fitted.encode()
    return _frame(_FIN_CLOSE, payload)


def pong_frame(payload: bytes) -> bytes:
    """The answer to a ping that carried ``payload``."""
    return _frame(_FIN_PONG, payload)


def _frame(first_byte: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        header = _PACK_SHORT(first_byte, length)
    elif length < 1 << 16:
        header = _PACK_MEDIUM(first_byte, 126, length)
    else:
        header = _PACK_LONG(first_byte, 127, length)
    return header + payload
