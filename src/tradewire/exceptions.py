"""The one exception tree of tradewire.

Every error tradewire raises on purpose derives from :class:`TradewireError`; library and OS
errors are converted at the adapter boundary with ``raise ... from exc``::

    TradewireError
    ├── ConfigError                  a config file, key or CLI value is wrong (names the key)
    ├── ProtocolError                bytes from a peer break the wire contract (PROTOCOL.md 1)
    │   ├── FrameTooLarge            a line longer than max_frame_bytes
    │   └── FrameError               one frame refused; carries the wire error code and "re"
    ├── IllegalTransition            a session event not allowed in the current state
    ├── StoreError                   the state database could not be read or written
    ├── UserError                    user management refused (duplicate, unknown, bad role)
    ├── BrokerError                  a broker adapter failed (connection, storage)
    │   └── OrderRejected            the broker refused an order (.reason, .retryable)
    ├── ClientError                  raised by the Python clients
    │   ├── HubRefused               the hub answered with an error frame (has .code)
    │   └── ConnectionLost           the connection dropped before an answer came
    └── Mql5Error                    an MQL5 network function failed; .code is the MQL5 error
"""

from __future__ import annotations


class TradewireError(Exception):
    """Root of every error tradewire raises on purpose."""


class ConfigError(TradewireError):
    """A configuration file, key or command-line value is invalid."""


class ProtocolError(TradewireError):
    """Bytes received from a peer violate the wire protocol."""


class FrameTooLarge(ProtocolError):
    """A line exceeded ``max_frame_bytes`` before its newline arrived."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"frame longer than {limit} bytes")
        self.limit = limit


class FrameError(ProtocolError):
    """One frame is refused with a wire error ``code``; nothing it asked for was applied."""

    def __init__(
        self, code: str, msg: str, re: int | str | None = None, retry_after_s: int | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.re = re
        self.retry_after_s = retry_after_s


class IllegalTransition(TradewireError):
    """A session received an event that its current state does not allow."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"event {event!r} is not allowed in state {state!r}")
        self.state = state
        self.event = event


class StoreError(TradewireError):
    """The state database could not be opened, read or written."""


class BusError(TradewireError):
    """The message bus (NATS) could not take, order or deliver a message."""


class UserError(TradewireError):
    """A user-management request was refused (duplicate name, unknown user, bad role)."""


class QuotaExceeded(UserError):
    """What one user may make the hub store is used up (the message says which limit)."""


class BrokerError(TradewireError):
    """A broker adapter could not do what was asked."""


class OrderRejected(BrokerError):
    """The broker refused an order. ``reason`` is a stable code; ``retryable`` says whether the
    same intent may succeed later (requote, market closed, margin) or never will (off-step)."""

    def __init__(self, reason: str, detail: str = "", retryable: bool = False) -> None:
        super().__init__(f"order rejected: {reason}" + (f" ({detail})" if detail else ""))
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


class ClientError(TradewireError):
    """Raised by tradewire's Python clients."""


class HubRefused(ClientError):
    """The hub answered a request with an error frame."""

    def __init__(self, code: str, msg: str = "", retry_after_s: float | None = None) -> None:
        super().__init__(f"hub refused: {code}" + (f" ({msg})" if msg else ""))
        self.code = code
        self.msg = msg
        self.retry_after_s = retry_after_s


class ConnectionLost(ClientError):
    """The connection to the hub dropped before the answer arrived."""


class Mql5Error(TradewireError):
    """An MQL5 network function failed with the documented error ``code`` (e.g. 5272).

    The ``tradewire.mql5`` facade never lets it escape: it becomes the function's failure value
    and ``GetLastError()``."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"MQL5 error {code}: {detail}")
        self.code = code
        self.detail = detail
