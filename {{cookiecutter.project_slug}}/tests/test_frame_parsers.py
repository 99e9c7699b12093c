"""The two frame parsers (``--frame-parser``) read every byte stream alike.

Hypothesis makes up what a client sends: text and binary messages, whole or
in fragments with pings between them, pings, pongs and a close, then maybe
one fault (invalid UTF-8, a message over the limit, an unmasked frame,
reserved bits, a bad opcode or close code...), all cut into chunks of any
size. Both parsers must hand over the same messages, sizes and failure code,
up to the first close or failure (after which a WebSocket reads nothing). Where
they differ on purpose, a test says so.
"""

from __future__ import annotations

import dataclasses
import os
import struct
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from {{ cookiecutter.package_name }}.core.frame_parsers import (
    PARSERS,
    SansIOFrameParser,
)
from {{ cookiecutter.package_name }}.core.settings import ServerSettings
from {{ cookiecutter.package_name }}.core.takeover import FrameParser

MAX_SIZE = 200  # the largest message the parsers under test accept
TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
# Codes a client may send, and codes both parsers refuse (RFC 6455, 7.4).
VALID_CLOSE_CODES = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 3000, 4999]
INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1015, 1016, 2999]


def frame(
    opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0
) -> bytes:
    """One frame as a client sends it (``masked``), with a random mask."""
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if masked else 0
    length = len(payload)
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason


def fragmented(opcode: int, payload: bytes, cuts: list[int], ping: bool) -> bytes:
    """``payload`` as one message in fragments cut at ``cuts``, a ping after the first."""
    bounds = sorted({0, len(payload), *(cut % (len(payload) + 1) for cut in cuts)})
    pieces = [payload[start:end] for start, end in pairwise(bounds)] or [b""]
    frames = []
    for index, piece in enumerate(pieces):
        last = index == len(pieces) - 1
        frames.append(frame(opcode if index == 0 else CONT, piece, fin=last))
        if ping and index == 0 and not last:
            frames.append(frame(PING, b"between"))
    return b"".join(frames)


payloads = st.binary(max_size=MAX_SIZE)
texts = st.text(max_size=MAX_SIZE // 4)
messages = st.one_of(
    st.builds(lambda text: frame(TEXT, text.encode()), texts),
    st.builds(lambda data: frame(BINARY, data), payloads),
    st.builds(
        lambda text, cuts, ping: fragmented(TEXT, text.encode(), cuts, ping),
        texts,
        st.lists(st.integers(0, MAX_SIZE), max_size=4),
        st.booleans(),
    ),
    st.builds(
        lambda data, cuts, ping: fragmented(BINARY, data, cuts, ping),
        payloads,
        st.lists(st.integers(0, MAX_SIZE), max_size=4),
        st.booleans(),
    ),
    st.builds(lambda data: frame(PING, data), st.binary(max_size=125)),
    st.builds(lambda data: frame(PONG, data), st.binary(max_size=125)),
)
faults = st.sampled_from(
    [
        frame(TEXT, b"caf\xc3"),  # truncated UTF-8
        frame(TEXT, b"\xff\xfe"),
        fragmented(TEXT, "é".encode() * 20, [7], ping=False),  # valid: cut inside a character
        frame(TEXT, b"x" * MAX_SIZE),  # the largest accepted
        frame(BINARY, b"x" * (MAX_SIZE + 1)),  # one byte too many
        fragmented(BINARY, b"x" * (MAX_SIZE + 1), [100], ping=False),
        frame(TEXT, b"reserved bits", rsv=0b100),
        frame(0x3, b"reserved opcode"),
        frame(0xB, b"reserved control opcode"),
        frame(PING, b"x" * 126),  # a control frame over 125 bytes
        frame(PING, b"fragmented", fin=False),
        frame(CONT, b"a continuation of nothing"),
        frame(TEXT, b"unfinished", fin=False) + frame(TEXT, b"a new message"),
        frame(TEXT, b"unfinished", fin=False) + frame(CLOSE, close_payload(1000)),
        frame(CLOSE, b""),
        frame(CLOSE, b"\x03"),  # a close payload of one byte
        frame(CLOSE, close_payload(1000, b"bye \xff")),  # a reason that is not UTF-8
        *(frame(CLOSE, close_payload(code, b"bye")) for code in VALID_CLOSE_CODES),
        *(frame(CLOSE, close_payload(code)) for code in INVALID_CLOSE_CODES),
    ]
)


def parse_all(make: Any, data: bytes, chunk_sizes: list[int]) -> list[tuple[Any, ...]]:
    """What a parser hands over for ``data`` fed in chunks, up to the first close or failure."""
    out: list[tuple[Any, ...]] = []
    parser = make(
        MAX_SIZE,
        lambda message, size: out.append((*tuple(message), size)),
        lambda error: out.append(("failed", error.code)),
    )
    position, sizes = 0, iter(chunk_sizes)
    while position < len(data):
        size = next(sizes, len(data))
        parser.feed(data[position : position + size])
        position += size
    for index, (kind, *_) in enumerate(out):
        if kind in ("failed", CLOSE):
            return [_comparable(item) for item in out[: index + 1]]
    return [_comparable(item) for item in out]


def _comparable(item: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(bytes(part) if isinstance(part, bytearray) else part for part in item)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(messages, max_size=8),
    st.none() | faults,
    st.lists(messages, max_size=2),
    st.lists(st.integers(1, 64), max_size=40),
)
def test_both_parsers_hand_over_the_same_messages_and_failures(
    before: list[bytes], fault: bytes | None, after: list[bytes], chunk_sizes: list[int]
) -> None:
    data = b"".join(before) + (fault or b"") + b"".join(after)
    expected = parse_all(FrameParser, data, chunk_sizes)
    assert parse_all(SansIOFrameParser, data, chunk_sizes) == expected


@pytest.mark.parametrize("make", [FrameParser, SansIOFrameParser])
def test_a_parser_hands_over_each_kind_of_message(make: Any) -> None:
    data = b"".join(
        [
            fragmented(TEXT, "hello, wörld".encode(), [3, 9], ping=True),
            frame(BINARY, b"\x00\x01"),
            frame(PONG, b"pong"),
            frame(CLOSE, close_payload(4000, b"done")),
        ]
    )
    assert parse_all(make, data, [5] * 20) == [
        (PING, b"between", "", 7),
        (TEXT, "hello, wörld", "", 13),
        (BINARY, b"\x00\x01", "", 2),
        (PONG, b"pong", "", 4),
        (CLOSE, 4000, "done", 0),
    ]


@pytest.mark.parametrize("make", [FrameParser, SansIOFrameParser])
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (frame(TEXT, b"caf\xc3"), 1007),
        (frame(BINARY, b"x" * (MAX_SIZE + 1)), 1009),
        (frame(0x3, b"reserved opcode"), 1002),
        (frame(CLOSE, close_payload(1005)), 1002),
    ],
)
def test_a_parser_refuses_a_broken_frame_with_the_code_that_fits(
    make: Any, data: bytes, code: int
) -> None:
    assert parse_all(make, frame(PING, b"first") + data, []) == [
        (PING, b"first", "", 5),
        ("failed", code),
    ]


def test_only_websockets_refuses_an_unmasked_frame() -> None:
    data = frame(TEXT, b"unmasked", masked=False)  # RFC 6455, 5.1: a server must refuse it
    assert parse_all(FrameParser, data, []) == [(TEXT, "unmasked", "", 8)]
    assert parse_all(SansIOFrameParser, data, []) == [("failed", 1002)]


@pytest.mark.parametrize("code", [1006, 5000])
def test_only_websockets_refuses_close_codes_a_client_must_not_send(code: int) -> None:
    data = frame(CLOSE, close_payload(code))
    assert parse_all(FrameParser, data, []) == [(CLOSE, code, "", 0)]
    assert parse_all(SansIOFrameParser, data, []) == [("failed", 1002)]


def test_the_frame_parser_setting_offers_exactly_the_parsers() -> None:
    field = next(
        field for field in dataclasses.fields(ServerSettings) if field.name == "frame_parser"
    )
    assert field.metadata["check"].metavar == "{" + ",".join(PARSERS) + "}"
    assert field.default in PARSERS
