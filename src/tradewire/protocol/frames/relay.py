"""The relay between clients: listen, relay, reply."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tradewire.model import Int64
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId


class Listen(Frame, frozen=True, tag="listen"):
    """Receive relay messages addressed to ``name``: the user's own name, or ``user/label``.
    The latest session to listen under a name gets its messages."""

    name: str
    id: RequestId = None


class Relay(Frame, frozen=True, tag="relay"):
    """A message to the session listening under ``to`` (grant ``relay:<user>``). One-way: the
    hub acks it once handed to the addressee. With ``reply``: the addressee's answer comes back
    as ``relayed`` (or ``error`` ``timeout``/``unreachable``) with ``re`` = ``id``."""

    to: str
    body: msgspec.Raw  # any JSON value, forwarded as sent (never re-encoded)
    id: RequestId = None
    reply: bool = False
    timeout_ms: Annotated[int, msgspec.Meta(ge=1, le=600_000)] | None = None


class RelayAnswer(Frame, frozen=True, tag="reply"):
    """The addressee's answer to a ``relay_in`` that carried ``rid``."""

    rid: Int64
    body: msgspec.Raw
    id: RequestId = None


class RelayIn(Frame, frozen=True, tag="relay_in"):
    """A relayed message for a listener: ``rid`` is set when the sender waits for a ``reply``."""

    sender: str = msgspec.field(name="from")
    to: str
    body: msgspec.Raw
    rid: int | None = None


class Relayed(Frame, frozen=True, tag="relayed"):
    """The answer to a ``relay`` request (``re`` = the request's ``id``)."""

    sender: str = msgspec.field(name="from")
    body: msgspec.Raw
    re: RequestId = None


FRAMES = FrameSet(
    "relay",
    client=(Listen, Relay, RelayAnswer),
    server=(RelayIn, Relayed),
)
