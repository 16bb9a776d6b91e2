"""The client's session rules, byte for byte, without a socket."""

from __future__ import annotations

import pytest

from tradewire.exceptions import FrameError
from tradewire.protocol.client_session import ClientSession
from tradewire.protocol.messages import Ack, Hello, StateUpdate, Sub

HELLO = Hello(v=1, user="bob", password="pw", agent="t")
WELCOME = (
    b'{"t":"welcome","v":1,"server":"tradewire/x","session":"s","heartbeat_s":5,'
    b'"roles":["follower"]}\n'
)


def test_hello_first_then_welcome_then_application_frames() -> None:
    s = ClientSession(HELLO, now=0)
    assert s.data_to_send() == [b'{"t":"hello","v":1,"user":"bob","password":"pw","agent":"t"}\n']
    assert s.receive_data(WELCOME[:20], 1) == [] and s.welcome is None
    frames = s.receive_data(WELCOME[20:] + b'{"t":"ack","re":1}\n{"t":"ping","id":7}\n', 1)
    assert s.welcome is not None and s.welcome.heartbeat_s == 5
    assert frames == [Ack(re=1)]
    assert s.data_to_send() == [b'{"t":"pong","re":7}\n']
    s.send(Sub(ch="alpha", id=2))
    assert s.data_to_send() == [b'{"t":"sub","ch":"alpha","id":2}\n']


def test_a_refused_hello_and_a_bye_end_the_session() -> None:
    s = ClientSession(HELLO, now=0)
    s.receive_data(b'{"t":"error","code":"banned","retry_after_s":30}\n{"t":"ack"}\n', 1)
    assert s.refused is not None and s.refused.retry_after_s == 30 and s.closed
    s = ClientSession(HELLO, now=0)
    frames = s.receive_data(WELCOME + b'{"t":"bye","reason":"revoked"}\n{"t":"ack"}\n', 1)
    assert frames == [] and s.bye == "revoked" and s.closed


def test_states_come_out_decoded_and_silence_means_gone() -> None:
    s = ClientSession(HELLO, now=0)
    state = (
        b'{"t":"state","ch":"a","seq":3,"ts":1,"account":{"login":"1","currency":"USD",'
        b'"balance":1,"equity":1,"leverage":1,"mode":"netting"},"positions":[]}\n'
    )
    (frame,) = s.receive_data(WELCOME + state, 10)
    assert isinstance(frame, StateUpdate) and frame.seq == 3
    assert not s.silent_too_long(24.9)
    assert s.silent_too_long(25.0)  # 3 heartbeats of 5 s


def test_bytes_that_break_the_protocol_raise() -> None:
    s = ClientSession(HELLO, now=0)
    with pytest.raises(FrameError):
        s.receive_data(b"not json\n", 1)
