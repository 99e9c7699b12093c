"""Frames written by the fast path are valid text frames, as the websockets library parses them."""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from {{ cookiecutter.package_name }}.core.frames import text_frame


def parse(data: bytes) -> tuple[Frame, bytes]:
    """The first frame in ``data`` (as a client reads it), and what follows it."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parsing = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as parsed:
        next(parsing)
    frame: Frame = parsed.value.value
    rest = reader.read_to_eof(len(data))
    with pytest.raises(StopIteration) as leftover:
        next(rest)
    return frame, leftover.value.value


# Each length encoding at its edges: 7-bit, 16-bit (126 marker) and 64-bit (127 marker).
@pytest.mark.parametrize("length", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_frame_of_any_length_parses_as_one_final_text_frame(length: int) -> None:
    text = "x" * length
    frame, rest = parse(text_frame(text))
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert bytes(frame.data).decode() == text
    assert rest == b""


def test_text_is_sent_as_utf8() -> None:
    text = "notify 1 \u00e9\u4e2d\U0001f600"
    frame, _ = parse(text_frame(text))
    assert frame.data == text.encode()
    assert len(frame.data) > len(text)  # the length counts bytes, not characters
