from __future__ import annotations

import pytest

from tradewire.exceptions import IllegalTransition
from tradewire.protocol.session import TRANSITIONS, SessionEvent, SessionMachine, SessionState

S, E = SessionState, SessionEvent


def run(*events: SessionEvent) -> SessionState:
    machine = SessionMachine()
    for event in events:
        machine.handle(event)
    return machine.state


def test_happy_path() -> None:
    assert run(E.HELLO, E.AUTH_OK, E.REQUEST, E.REQUEST) is S.AUTHENTICATED
    assert run(E.HELLO, E.AUTH_OK, E.CLOSE, E.TRANSPORT_CLOSED) is S.CLOSED


def test_failed_login_closes() -> None:
    assert run(E.HELLO, E.AUTH_FAILED) is S.CLOSING


@pytest.mark.parametrize(
    "events",
    [
        (E.REQUEST,),  # nothing but hello before welcome
        (E.AUTH_OK,),
        (E.HELLO, E.HELLO),
        (E.HELLO, E.REQUEST),
        (E.HELLO, E.AUTH_OK, E.HELLO),
        (E.HELLO, E.AUTH_OK, E.AUTH_OK),
        (E.TRANSPORT_CLOSED, E.CLOSE),
        (E.TRANSPORT_CLOSED, E.TRANSPORT_CLOSED),
    ],
)
def test_illegal_events_raise_one_error(events: tuple[SessionEvent, ...]) -> None:
    with pytest.raises(IllegalTransition) as caught:
        run(*events)
    assert caught.value.event == events[-1].value


def test_every_state_but_closed_can_close_and_lose_its_transport() -> None:
    for state in S:
        if state is S.CLOSED:
            assert not any(s is S.CLOSED for s, _ in TRANSITIONS)
            continue
        assert TRANSITIONS[(state, E.TRANSPORT_CLOSED)] is S.CLOSED
        assert TRANSITIONS[(state, E.CLOSE)] is S.CLOSING


def test_a_tls_session_handshakes_before_awaiting_hello() -> None:
    from tradewire.protocol.session import SessionEvent, SessionMachine, SessionState

    machine = SessionMachine()
    assert machine.handle(SessionEvent.TLS) is SessionState.HANDSHAKING
    assert not machine.can(SessionEvent.HELLO)  # nothing is read before the handshake ends
    assert machine.handle(SessionEvent.TLS_OK) is SessionState.AWAITING_HELLO
    stalled = SessionMachine()
    stalled.handle(SessionEvent.TLS)
    assert stalled.handle(SessionEvent.CLOSE) is SessionState.CLOSING
