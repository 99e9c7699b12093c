"""The two frame parsers a :class:`~.websocket.WebSocket` can read its client with (``--frame-parser``).

Both turn the bytes off the socket into whole messages, handed to
``deliver(message, size)`` as ``(type, data, extra)``: text decoded, binary as
bytes, a close as its code (0 for none) and reason, a ping or pong as its
payload. A frame that breaks RFC 6455 goes to ``fail`` as an
:class:`aiohttp.WebSocketError` whose ``code`` is the close code that fits
(1002, 1007, 1009); the parser takes nothing after it.

- ``aiohttp`` (the default): aiohttp's compiled parser, a private module
  (see ``takeover.py``); the fastest.
- ``websockets``: the `websockets` library's Sans-I/O protocol, a public API:
  the way out if an aiohttp release breaks the private parser. Unlike
  aiohttp's, it refuses an unmasked frame and close codes 1006 and 5000 and up
  (1002), as RFC 6455 says a server must.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol, cast

from aiohttp import WebSocketError, WSCloseCode, WSMsgType
from websockets.frames import Close, CloseCode, Frame, Opcode
from websockets.protocol import Protocol as SansIO
from websockets.protocol import Side

from .takeover import FrameParser

__all__ = ["PARSERS", "Deliver", "Fail", "Parser", "ParserFactory", "SansIOFrameParser"]

Deliver = Callable[[Any, int], None]
Fail = Callable[[BaseException], None]

_TEXT, _BINARY, _CLOSE = int(WSMsgType.TEXT), int(WSMsgType.BINARY), int(WSMsgType.CLOSE)
_PING, _PONG = int(WSMsgType.PING), int(WSMsgType.PONG)
_CONTROL = {Opcode.PING: _PING, Opcode.PONG: _PONG}
_silent = logging.getLogger(f"{__name__}.sans_io")  # it would log each close at INFO
_silent.disabled = True


class Parser(Protocol):
    def feed(self, data: bytes) -> None: ...


# Makes the parser of one connection, given its largest message and where messages go.
ParserFactory = Callable[[int, Deliver, Fail], Parser]


class SansIOFrameParser:
    """Frames parsed by websockets' :class:`~websockets.protocol.Protocol`; see the module."""

    __slots__ = ("_deliver", "_fail", "_failed", "_fragments", "_kind", "_protocol")

    def __init__(self, max_size: int, deliver: Deliver, fail: Fail) -> None:
        self._protocol = SansIO(Side.SERVER, max_size=max_size, logger=_silent)
        self._deliver = deliver
        self._fail = fail
        self._failed = False
        self._kind = _TEXT  # the type of the fragmented message being joined
        self._fragments: list[bytes] = []

    def feed(self, data: bytes) -> None:
        if self._failed:
            return
        protocol = self._protocol
        protocol.receive_data(data)
        protocol.data_to_send()  # its own pongs and close: the WebSocket writes those itself
        # Open from the start, so frames only: no handshake request or response.
        for frame in cast("list[Frame]", protocol.events_received()):
            self._frame(frame)
            if self._failed:
                return
        if protocol.parser_exc is None:
            return
        self._failed = True
        if protocol.close_rcvd is not None:
            # A close inside a fragmented message, which websockets refuses: RFC 6455 allows it
            # (control frames may come between fragments), so it is the peer's close, as it is
            # to aiohttp; the unfinished message is dropped.
            self._close(protocol.close_rcvd)
            return
        close = protocol.close_sent
        code = close.code if close is not None else WSCloseCode.PROTOCOL_ERROR
        self._fail(WebSocketError(code, str(protocol.parser_exc)))

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            self._kind = _TEXT if opcode is Opcode.TEXT else _BINARY
            self._fragments = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            self._fragments.append(bytes(frame.data))
        elif opcode is Opcode.CLOSE:
            self._close(Close.parse(frame.data))
            return
        else:
            self._deliver((_CONTROL[opcode], bytes(frame.data), ""), len(frame.data))
            return
        if frame.fin:
            self._message(b"".join(self._fragments))
            self._fragments = []

    def _message(self, payload: bytes) -> None:
        if self._kind == _BINARY:
            self._deliver((_BINARY, payload, ""), len(payload))
            return
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            self._failed = True
            self._fail(WebSocketError(WSCloseCode.INVALID_TEXT, "Invalid UTF-8 text message"))
            return
        self._deliver((_TEXT, text, ""), len(payload))

    def _close(self, close: Close) -> None:
        code = 0 if close.code == CloseCode.NO_STATUS_RCVD else close.code
        self._deliver((_CLOSE, code, close.reason), 0)


PARSERS: dict[str, ParserFactory] = {  # by the name ``--frame-parser`` gives
    "aiohttp": FrameParser,
    "websockets": SansIOFrameParser,
}
