"""The server-side session state machine, with its transitions as data (cf. h11's _state.py).

::

    (handshaking --tls_ok-->)
    awaiting_hello --hello--> authenticating --auth_ok--> authenticated --request--> (same)
          |                        |                            |
          +------ close -----------+---- auth_failed/close -----+--> closing
                                                                      |
                                                      transport_closed +--> closed

With TLS, a connection starts in ``handshaking`` (entered by ``tls`` right after accept, once
limits and bans have let it in) and reaches ``awaiting_hello`` when the handshake completes.
Any state but ``closed`` may go straight to ``closed`` when the transport drops. An event that is
not in :data:`TRANSITIONS` for the current state raises :class:`IllegalTransition`.
"""

from __future__ import annotations

from enum import StrEnum

from tradewire.exceptions import IllegalTransition


class SessionState(StrEnum):
    HANDSHAKING = "handshaking"
    AWAITING_HELLO = "awaiting_hello"
    AUTHENTICATING = "authenticating"
    AUTHENTICATED = "authenticated"
    CLOSING = "closing"
    CLOSED = "closed"


class SessionEvent(StrEnum):
    TLS = "tls"  # the listener speaks TLS: the handshake starts
    TLS_OK = "tls_ok"  # it completed
    HELLO = "hello"  # a hello frame arrived
    AUTH_OK = "auth_ok"  # the password check passed
    AUTH_FAILED = "auth_failed"  # it did not, or the address is banned
    REQUEST = "request"  # any other frame from the client
    CLOSE = "close"  # the server decided to close (error, limit, timeout, shutdown, bye)
    TRANSPORT_CLOSED = "transport_closed"  # the connection is gone


S, E = SessionState, SessionEvent

TRANSITIONS: dict[tuple[SessionState, SessionEvent], SessionState] = {
    (S.AWAITING_HELLO, E.TLS): S.HANDSHAKING,
    (S.HANDSHAKING, E.TLS_OK): S.AWAITING_HELLO,
    (S.AWAITING_HELLO, E.HELLO): S.AUTHENTICATING,
    (S.AUTHENTICATING, E.AUTH_OK): S.AUTHENTICATED,
    (S.AUTHENTICATING, E.AUTH_FAILED): S.CLOSING,
    (S.AUTHENTICATED, E.REQUEST): S.AUTHENTICATED,
    **{
        (state, E.CLOSE): S.CLOSING
        for state in (S.HANDSHAKING, S.AWAITING_HELLO, S.AUTHENTICATING, S.AUTHENTICATED, S.CLOSING)
    },
    **{
        (state, E.TRANSPORT_CLOSED): S.CLOSED
        for state in (S.HANDSHAKING, S.AWAITING_HELLO, S.AUTHENTICATING, S.AUTHENTICATED, S.CLOSING)
    },
}


class SessionMachine:
    """Tracks one session's state; :meth:`handle` applies an event or raises."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = SessionState.AWAITING_HELLO

    def can(self, event: SessionEvent) -> bool:
        """True when ``event`` is allowed now."""
        return (self.state, event) in TRANSITIONS

    def handle(self, event: SessionEvent) -> SessionState:
        """Apply ``event``; return the new state. Raises :class:`IllegalTransition`."""
        try:
            self.state = TRANSITIONS[(self.state, event)]
        except KeyError:
            raise IllegalTransition(self.state.value, event.value) from None
        return self.state
