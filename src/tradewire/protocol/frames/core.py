"""The frames every session speaks, whatever the services: the handshake, keep-alive,
subscribing, goodbye, and the hub's ack and error."""

from __future__ import annotations

from tradewire.model import Int64
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId


class Hello(Frame, frozen=True, tag="hello"):
    v: Int64
    user: str
    password: str
    agent: str = ""
    id: RequestId = None


class Ping(Frame, frozen=True, tag="ping"):
    id: RequestId = None


class Pong(Frame, frozen=True, tag="pong"):
    re: RequestId = None
    # The hub's clock (monotonic microseconds) as it answered: clients measure their offset
    # to the hub's clock from it, for the per-hop latency stamps (docs/latency.md).
    now_us: Int64 | None = None


class Sub(Frame, frozen=True, tag="sub"):
    """Subscribe to one kind of stream, named by the one field given: a signal channel
    (``ch``), live ticks (``ticks``: symbols or "*"), sentiment (``sentiment``: symbols or
    "*"), or topics (``topics``: names, or prefixes ending in "*")."""

    ch: str | None = None
    ticks: list[str] | None = None
    sentiment: list[str] | None = None
    topics: list[str] | None = None
    id: RequestId = None


class Unsub(Frame, frozen=True, tag="unsub"):
    ch: str | None = None
    ticks: list[str] | None = None
    sentiment: list[str] | None = None
    topics: list[str] | None = None
    id: RequestId = None


SUB_KINDS = ("ch", "ticks", "sentiment", "topics")


def sub_kind(frame: Sub | Unsub) -> str | None:
    """The one stream a ``sub``/``unsub`` names, or ``None`` when it names none or several."""
    given = [kind for kind in SUB_KINDS if getattr(frame, kind) is not None]
    return given[0] if len(given) == 1 else None


class Bye(Frame, frozen=True, tag="bye"):
    reason: str = ""


class Welcome(Frame, frozen=True, tag="welcome"):
    v: int
    server: str
    session: str
    heartbeat_s: float
    roles: list[str]
    re: RequestId = None
    # The longest line the hub accepts from you. The hub always says it (None only from a hub
    # that did not: then DEFAULT_MAX_FRAME_BYTES applies). Not an int default: msgspec omits a
    # field whose value *is* its default object, which made the hub's welcome depend on which
    # int object its configuration held.
    max_frame_bytes: int | None = None
    host: str = ""  # the hub's host and boot: a client that shares it shares its clock


class Ack(Frame, frozen=True, tag="ack"):
    re: RequestId = None
    seq: int | None = None
    n: int | None = None


class Error(Frame, frozen=True, tag="error"):
    code: str
    msg: str = ""
    re: RequestId = None
    retry_after_s: float | None = None
    supported: list[int] | None = None
    since_ms: int | None = None  # channel_busy: when the live publisher started publishing
    ch: str | None = None  # revoked: the channel whose grant was withdrawn


ERROR_CODES = frozenset(
    {
        "bad_frame",
        "frame_too_large",
        "auth_failed",
        "auth_timeout",
        "banned",
        "unsupported_version",
        "forbidden",
        "not_found",
        "invalid_state",
        "invalid_ticks",
        "rate_limited",
        "file_too_large",
        "server_busy",
        "channel_busy",
        "revoked",
        "unreachable",
        "timeout",
        "name_taken",
        "internal",
    }
)


def _names_one_stream(frame: Sub | Unsub) -> tuple[str, str] | None:
    if sub_kind(frame) is not None:
        return None
    kinds = ", ".join(f'"{kind}"' for kind in SUB_KINDS)
    return "bad_frame", f"{frame.__class__.__name__.lower()}: give one of {kinds}"


FRAMES = FrameSet(
    "core",
    client=(Hello, Ping, Pong, Sub, Unsub, Bye),
    server=(Welcome, Ack, Error, Ping, Pong, Bye),
    checks={Sub: _names_one_stream, Unsub: _names_one_stream},
)
