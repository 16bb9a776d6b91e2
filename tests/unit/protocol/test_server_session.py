"""Every session rule, byte for byte, on a manual clock: no sockets, no sleeps."""

from __future__ import annotations

from typing import Any

from tradewire.protocol.messages import PublishState, Sub
from tradewire.protocol.server_session import ServerSession, SessionTimers
from tradewire.protocol.session import SessionState as S

HELLO = b'{"t":"hello","v":1,"user":"bob","password":"pw","id":1}\n'
WELCOME = b'{"t":"welcome"}\n'
TIMERS = SessionTimers(auth_timeout_s=10, heartbeat_s=15, idle_timeout_s=45)


def session(now: float = 100.0, max_frame_bytes: int = 1024) -> ServerSession:
    return ServerSession(now, max_frame_bytes, TIMERS, supported_versions=(1,))


def frames(s: ServerSession, now: float = 100.0) -> list[Any]:
    out = []
    while (frame := s.next_frame(now)) is not None:
        out.append(frame)
    return out


def logged_in(now: float = 100.0) -> ServerSession:
    s = session(now)
    s.receive_data(HELLO, now)
    assert frames(s, now) == [] and s.awaiting_login
    s.accept_login(WELCOME)
    assert s.data_to_send() == [WELCOME]
    return s


def test_hello_first_then_the_password_check() -> None:
    s = session()
    s.receive_data(b'{"t":"sub","ch":"alpha","id":4}\n', 100)
    assert frames(s) == []
    assert s.data_to_send() == [
        b'{"t":"error","code":"invalid_state","msg":"send hello first","re":4}\n'
    ]
    assert s.closing and s.state is S.CLOSING


def test_lines_behind_the_hello_are_held_and_served_in_order_after_welcome() -> None:
    s = session()
    s.receive_data(HELLO + b'{"t":"sub","ch":"a","id":2}\n{"t":"ping","id":3}\n{"t":"sub",', 100)
    assert frames(s) == [] and s.awaiting_login and s.reading_paused
    assert s.hello is not None and s.hello.user == "bob"
    s.receive_data(b'"ch":"b","id":4}\n', 100)
    assert frames(s) == []  # still held: the password is being checked
    s.accept_login(WELCOME)
    first = s.next_frame(100)
    assert isinstance(first, Sub) and first.ch == "a"
    assert s.data_to_send() == [WELCOME]
    second = s.next_frame(100)  # the ping on the way: answered in its place
    assert s.data_to_send() == [b'{"t":"pong","re":3,"now_us":100000000}\n']  # its clock
    assert isinstance(second, Sub) and second.ch == "b" and not s.reading_paused


def test_a_refused_login_closes_with_its_line() -> None:
    s = session()
    s.receive_data(HELLO + b'{"t":"ping"}\n', 100)
    frames(s)
    s.refuse_login(b'{"t":"error","code":"auth_failed"}\n', 101)
    assert s.data_to_send() == [b'{"t":"error","code":"auth_failed"}\n']
    assert s.state is S.CLOSING and frames(s) == []
    s.accept_login(WELCOME)  # a late outcome changes nothing
    assert s.data_to_send() == [] and s.state is S.CLOSING


def test_unsupported_versions_are_refused() -> None:
    s = session()
    s.receive_data(b'{"t":"hello","v":9,"user":"u","password":"p","id":1}\n', 100)
    assert frames(s) == [] and not s.awaiting_login
    assert s.data_to_send() == [
        b'{"t":"error","code":"unsupported_version","msg":"protocol v9 is not served",'
        b'"re":1,"supported":[1]}\n'
    ]
    assert s.closing


def test_three_bad_frames_in_a_row_close_and_a_good_one_resets_the_count() -> None:
    s = logged_in()
    s.receive_data(b"nope\n{}\n" + b'{"t":"ping","id":1}\n' + b"x\ny\nz\nnever read\n", 100)
    assert frames(s) == []
    out = s.data_to_send()
    assert [b'"bad_frame"' in line for line in out] == [True, True, False, True, True, True, False]
    assert out[2] == b'{"t":"pong","re":1,"now_us":100000000}\n'
    assert out[-1] == b'{"t":"bye","reason":"too many bad frames"}\n'
    assert s.closing


def test_an_overlong_line_is_refused_before_its_newline() -> None:
    s = logged_in()
    s.receive_data(b"{" + b" " * 2000, 100)
    assert s.data_to_send() == [
        b'{"t":"error","code":"frame_too_large","msg":"frame longer than 1024 bytes"}\n'
    ]
    assert s.closing


def test_service_frames_come_out_and_a_second_hello_is_refused() -> None:
    s = logged_in()
    state = (
        b'{"t":"state","ch":"alpha","ts":1,"id":7,"account":{"login":"1","currency":"USD",'
        b'"balance":1,"equity":1,"leverage":1,"mode":"netting"},"positions":[]}\n'
    )
    s.receive_data(state + HELLO + b'{"t":"pong","re":5}\n', 100)
    (frame,) = frames(s)
    assert isinstance(frame, PublishState) and frame.id == 7
    assert s.data_to_send() == [
        b'{"t":"error","code":"invalid_state","msg":"already authenticated","re":1}\n'
    ]


def test_bye_closes_without_a_word() -> None:
    s = logged_in()
    s.receive_data(b'{"t":"bye"}\n{"t":"ping","id":1}\n', 100)
    assert frames(s) == [] and s.data_to_send() == [] and s.closing


def test_auth_timeout_covers_a_pending_login() -> None:
    s = session(now=100)
    s.tick(109.9)
    assert not s.closing
    s.receive_data(HELLO, 105)  # the check takes long
    frames(s)
    s.tick(110.0)
    assert s.data_to_send() == [
        b'{"t":"error","code":"auth_timeout","msg":"no login within 10 s"}\n'
    ]
    s.accept_login(WELCOME)
    assert s.state is S.CLOSING and s.data_to_send() == []


def test_heartbeat_pings_then_the_idle_timeout() -> None:
    s = logged_in(now=100)
    s.tick(114.9)
    assert s.data_to_send() == []
    s.tick(115.0)
    assert s.data_to_send() == [b'{"t":"ping","id":115000}\n']
    s.tick(120.0)
    assert s.data_to_send() == []  # one ping per heartbeat
    s.receive_data(b'{"t":"pong","re":115000}\n', 125)
    frames(s, 125)
    s.tick(169.9)
    assert not s.closing
    s.tick(170.0)
    assert s.data_to_send()[-1] == b'{"t":"bye","reason":"idle_timeout"}\n'
    assert s.closing and not s.abort
    s.tick(171.9)
    assert not s.abort
    s.tick(172.0)  # did not drain within the grace: the caller aborts the transport
    assert s.abort


def test_with_tls_the_login_time_counts_from_the_handshake() -> None:
    s = session(now=100)
    s.start_tls()
    assert s.state is S.HANDSHAKING
    s.tls_done(108)
    s.tick(117.9)
    assert not s.closing
    s.tick(118)
    assert s.closing
