"""Decoding and encoding of frames; every failure becomes one :class:`FrameError`.

Decoders and encoders are created once and reused (DESIGN.md). A frame is refused whole: either
it decodes and validates completely, or the caller gets a ``FrameError`` carrying the wire code
(``bad_frame``, ``invalid_state``, ``unsupported_version``), a message, and the frame's ``id`` to
echo as ``re``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, Union

import msgspec

from tradewire.exceptions import FrameError
from tradewire.protocol.finite import non_finite_field
from tradewire.protocol.messages import (
    CLIENT_FRAME_TYPES,
    SUB_KINDS,
    ClientFrame,
    Error,
    FileGet,
    FilePut,
    MetaValue,
    PendingOrder,
    Position,
    PublishState,
    RequestId,
    ServerFrame,
    StateUpdate,
    Sub,
    Unsub,
    sub_kind,
)
from tradewire.protocol.names import is_channel, is_finite, is_symbol

MAX_POSITIONS = 1000
T = TypeVar("T")
TOO_DEEP = "JSON nested too deeply"
NOT_UTF8 = "not valid UTF-8"

_client_decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(ClientFrame)
_client_types: list[type] = list(ClientFrame.__args__)
_client_tags: set[str] = set(CLIENT_FRAME_TYPES)


def register_client_frame(frame_type: type[msgspec.Struct]) -> None:
    """Decode a service's own frame type from now on (a tagged struct like those in
    :mod:`tradewire.protocol.messages`, with ``tag_field="t"``). For services that live outside
    this package; the built-in frames are in the ``ClientFrame`` union."""
    global _client_decoder
    tag = frame_type.__struct_config__.tag
    if not isinstance(tag, str) or frame_type.__struct_config__.tag_field != "t":
        raise TypeError(f"{frame_type.__name__} needs tag_field='t' and a string tag")
    if tag in _client_tags:
        raise ValueError(f"a client frame tagged {tag!r} exists already")
    _client_types.append(frame_type)
    _client_tags.add(tag)
    _client_decoder = msgspec.json.Decoder(Union[tuple(_client_types)])  # noqa: UP007


_server_decoder: msgspec.json.Decoder[ServerFrame] = msgspec.json.Decoder(ServerFrame)
_encoder = msgspec.json.Encoder()


class _Envelope(msgspec.Struct):
    """Just enough of any JSON object to classify a frame that failed to decode."""

    t: Any = None
    id: Any = None


_envelope_decoder = msgspec.json.Decoder(_Envelope)


def encode(frame: msgspec.Struct) -> bytes:
    """Encode one frame as a ``\\n``-terminated line."""
    buf = _encoder.encode(frame)
    return buf + b"\n"


def error_line(code: str, msg: str = "", re: RequestId = None, **extra: Any) -> bytes:
    """Encode an error frame."""
    return encode(Error(code=code, msg=msg, re=re, **extra))


def decode_client_frame(line: bytes) -> Any:
    """Decode and validate one line from a client: a ``ClientFrame``, or a frame type a
    service registered (:func:`register_client_frame`).

    Raises :class:`FrameError` with code ``bad_frame`` (not UTF-8 JSON, not an object, missing
    or unknown ``t``, wrong field types), or ``invalid_state`` (a ``state`` frame that breaks the
    rules of PROTOCOL.md 1.1).
    """
    try:
        frame = _guarded(_client_decoder.decode, line)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise _classify(line, exc) from None
    if isinstance(frame, Sub | Unsub) and sub_kind(frame) is None:
        raise FrameError(
            "bad_frame",
            f"{frame.__class__.__name__.lower()}: give one of "
            + ", ".join(f'"{kind}"' for kind in SUB_KINDS),
            frame.id,
        )
    if isinstance(frame, FilePut | FileGet):
        problem = file_problem(frame.name, frame.meta if isinstance(frame, FilePut) else {})
        if problem is not None:
            raise FrameError("bad_frame", problem, frame.id)
    if isinstance(frame, PublishState):
        problem = state_problem(frame.ch, frame.positions, frame.account.mode, frame.orders)
        if problem is None and not (
            is_finite(frame.account.balance) and is_finite(frame.account.equity)
        ):
            problem = "account balance and equity must be finite"
        if problem is not None:
            raise FrameError("invalid_state", problem, frame.id)
    bad = non_finite_field(frame)
    if bad is not None:
        raise FrameError(
            "bad_frame",
            f"{bad}: a number that is not finite (1e400 reads as infinity); send a finite one",
            getattr(frame, "id", None),
        )
    return frame


def decode_server_frame(line: bytes) -> ServerFrame:
    """Decode one line from the hub (client side). Raises :class:`FrameError` (``bad_frame``)."""
    try:
        return _guarded(_server_decoder.decode, line)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise FrameError("bad_frame", str(exc)) from None


def _guarded(decode: Callable[[bytes], T], line: bytes) -> T:
    """``decode(line)``, with the two failures msgspec reports outside its own errors turned
    into ``bad_frame``: deep nesting in a free-form field, and bad UTF-8 inside a string."""
    try:
        return decode(line)
    except RecursionError:
        raise FrameError("bad_frame", TOO_DEEP) from None
    except UnicodeDecodeError:
        raise FrameError("bad_frame", NOT_UTF8) from None


def _classify(line: bytes, exc: Exception) -> FrameError:
    try:
        env = _guarded(_envelope_decoder.decode, line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return FrameError("bad_frame", "expected one UTF-8 JSON object per line")
    except FrameError as problem:
        return problem
    re = env.id if _echoable(env.id) else None
    if env.t is None:
        return FrameError("bad_frame", 'missing "t"', re)
    if not isinstance(env.t, str) or env.t not in _client_tags:
        return FrameError("bad_frame", f"unknown frame type {str(env.t)[:40]!r}", re)
    code = {"state": "invalid_state", "ticks": "invalid_ticks"}.get(env.t, "bad_frame")
    return FrameError(code, f"{env.t}: {exc}", re)


def _echoable(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 128


MAX_META_KEYS = 32
MAX_META_TEXT = 256


def file_problem(name: str, meta: dict[str, MetaValue]) -> str | None:
    """What is wrong with a file name or its metadata, or ``None``."""
    if not is_channel(name) or name.strip(".") == "":
        return "file name must match [A-Za-z0-9_.-]{1,64} and not be only dots"
    if len(meta) > MAX_META_KEYS:
        return f"meta: at most {MAX_META_KEYS} keys"
    for key, value in meta.items():
        if not is_channel(key):
            return f"meta key {key[:40]!r} must match [A-Za-z0-9_.-]{{1,64}}"
        if isinstance(value, str) and len(value) > MAX_META_TEXT:
            return f"meta.{key}: at most {MAX_META_TEXT} characters"
        if isinstance(value, float) and not is_finite(value):
            return f"meta.{key}: must be finite"
    return None


def state_problem(
    channel: str, positions: list[Position], mode: str, orders: list[PendingOrder] | None = None
) -> str | None:
    """The first rule of PROTOCOL.md 1.1 (and 1.2's ``orders``) a state breaks, or ``None``."""
    if not is_channel(channel):
        return "channel name must match [A-Za-z0-9_.-]{1,64}"
    if len(positions) > MAX_POSITIONS:
        return f"at most {MAX_POSITIONS} positions"
    ids: set[str] = set()
    symbols: set[str] = set()
    for index, pos in enumerate(positions):
        where = f"positions[{index}]"
        if not is_symbol(pos.symbol):
            return f"{where}.symbol must match [A-Za-z0-9_.#+-]{{1,32}}"
        if not (is_finite(pos.volume) and pos.volume > 0):
            return f"{where}.volume must be finite and > 0"
        for name in ("price", "sl", "tp"):
            value = getattr(pos, name)
            if not (is_finite(value) and value >= 0):
                return f"{where}.{name} must be finite and >= 0"
        if pos.id in ids:
            return f"{where}.id {pos.id!r} is not unique"
        ids.add(pos.id)
        if mode == "netting":
            if pos.symbol in symbols:
                return f"{where}: netting mode allows one position per symbol ({pos.symbol})"
            symbols.add(pos.symbol)
    return orders_problem(orders or [])


def orders_problem(orders: list[PendingOrder]) -> str | None:
    """The first rule of PROTOCOL.md 1.2 a state's pending orders break, or ``None``. (An
    expiration in the past is not refused here: a follower skips that order, saying why.)"""
    if len(orders) > MAX_POSITIONS:
        return f"at most {MAX_POSITIONS} orders"
    ids: set[str] = set()
    for index, order in enumerate(orders):
        where = f"orders[{index}]"
        if not is_symbol(order.symbol):
            return f"{where}.symbol must match [A-Za-z0-9_.#+-]{{1,32}}"
        if not (is_finite(order.volume) and order.volume > 0):
            return f"{where}.volume must be finite and > 0"
        if not (is_finite(order.price) and order.price > 0):
            return f"{where}.price must be finite and > 0"
        for name in ("stop_limit", "sl", "tp"):
            value = getattr(order, name)
            if not (is_finite(value) and value >= 0):
                return f"{where}.{name} must be finite and >= 0"
        if order.type.endswith("stop_limit") and not order.stop_limit:
            return f"{where}: a {order.type} needs stop_limit (the limit price)"
        if order.expiration < 0:
            return f"{where}.expiration must be Unix ms, or 0 for good-till-cancelled"
        if not order.id or order.id in ids:
            return f"{where}.id {order.id!r} is empty or not unique"
        ids.add(order.id)
    return None


def stamp(frame: PublishState, seq: int, received_us: int = 0) -> StateUpdate:
    """The hub's copy of a provider's state, stamped with the channel sequence number and the
    first hops (docs/latency.md): when the provider saw the change, when the hub received it."""
    return StateUpdate(
        ch=frame.ch,
        seq=seq,
        ts=frame.ts,
        account=frame.account,
        positions=frame.positions,
        orders=frame.orders,
        hops=[frame.det_us or 0, received_us, 0],
    )
