from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewire.exceptions import FrameTooLarge
from tradewire.protocol.framing import LineFramer

STREAM = b'{"t":"ping","id":1}\n\n{"t":"ping","id":2}\r\n{"t":"pong"}\n'
EXPECTED = [b'{"t":"ping","id":1}', b'{"t":"ping","id":2}', b'{"t":"pong"}']


def test_whole_stream_gives_lines_without_terminators_and_skips_empty_lines() -> None:
    assert LineFramer().feed(STREAM) == EXPECTED


def test_byte_by_byte_gives_the_same_lines() -> None:
    framer = LineFramer()
    lines = [line for i in range(len(STREAM)) for line in framer.feed(STREAM[i : i + 1])]
    assert lines == EXPECTED
    assert framer.buffered == 0


@pytest.mark.parametrize("cut", range(len(STREAM) + 1))
def test_split_at_every_offset(cut: int) -> None:
    framer = LineFramer()
    assert framer.feed(STREAM[:cut]) + framer.feed(STREAM[cut:]) == EXPECTED


def test_line_of_exactly_the_limit_passes_one_more_byte_fails() -> None:
    assert LineFramer(16).feed(b"x" * 16 + b"\n") == [b"x" * 16]
    assert LineFramer(16).feed(b"x" * 16 + b"\r\n") == [b"x" * 16]
    with pytest.raises(FrameTooLarge):
        LineFramer(16).feed(b"x" * 17 + b"\n")


def test_unfinished_line_over_the_limit_fails_without_waiting_for_newline() -> None:
    framer = LineFramer(16)
    framer.feed(b"x" * 10)
    with pytest.raises(FrameTooLarge):
        framer.feed(b"x" * 10)
    with pytest.raises(FrameTooLarge):  # the framer stays broken
        framer.feed(b"\n")


def test_buffer_never_holds_more_than_the_limit() -> None:
    framer = LineFramer(1024)
    for _ in range(100):
        framer.feed(b"y" * 7 + b"\n" + b"z" * 3)
        assert framer.buffered <= 1024


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_any_bytes_give_lines_or_frame_too_large(chunks: list[bytes]) -> None:
    framer = LineFramer(256)
    data = b"".join(chunks)
    try:
        lines = [line for chunk in chunks for line in framer.feed(chunk)]
    except FrameTooLarge:
        assert any(len(p.rstrip(b"\r")) > 256 for p in data.split(b"\n"))
        return
    complete = data.split(b"\n")[:-1]
    assert lines == [p[:-1] if p.endswith(b"\r") else p for p in complete if p not in (b"", b"\r")]
    assert all(len(line) <= 256 for line in lines)
