"""Decoding and encoding of frames; every failure becomes one :class:`FrameError`.

Decoders and encoders are created once and reused (DESIGN.md). A frame is refused whole: either
it decodes and validates completely, or the caller gets a ``FrameError`` carrying the wire code
(``bad_frame``, ``invalid_state``, ``unsupported_version``), a message, and the frame's ``id`` to
echo as ``re``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, Union

import msgspec

from tradewire.exceptions import FrameError
from tradewire.protocol.finite import non_finite_field
from tradewire.protocol.frames import BUILTIN
from tradewire.protocol.frames.base import Check, FrameSet, tag
from tradewire.protocol.frames.channels import MAX_POSITIONS as MAX_POSITIONS
from tradewire.protocol.frames.channels import orders_problem as orders_problem
from tradewire.protocol.frames.channels import state_problem as state_problem
from tradewire.protocol.frames.files import file_problem as file_problem
from tradewire.protocol.messages import (
    Error,
    PublishState,
    RequestId,
    ServerFrame,
    StateUpdate,
)

T = TypeVar("T")
TOO_DEEP = "JSON nested too deeply"
NOT_UTF8 = "not valid UTF-8"


class Codec:
    """Decoders for the frames of the sets it is built from (each service's ``FRAMES``,
    protocol/frames/): made once per set of services, by the hub from its services and by
    clients from the built-in ones. Two sets with one tag on the same side are refused."""

    def __init__(self, sets: Iterable[FrameSet]) -> None:
        self.sets = tuple(sets)
        client: dict[str, type[msgspec.Struct]] = {}
        server: dict[str, type[msgspec.Struct]] = {}
        self._checks: dict[type[msgspec.Struct], Check] = {}
        for frames in self.sets:
            for side, table in (("client", client), ("server", server)):
                for frame in getattr(frames, side):
                    known = table.setdefault(tag(frame), frame)
                    if known is not frame:
                        raise ValueError(
                            f"{frames.name}: a {side} frame tagged {tag(frame)!r} exists already"
                        )
            self._checks.update(frames.checks)
        self.client_tags = frozenset(client)
        self.server_tags = frozenset(server)
        self._client: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
            Union[tuple(client.values())]  # noqa: UP007
        )
        self._server: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
            Union[tuple(server.values())]  # noqa: UP007
        )

    def decode_client(self, line: bytes) -> Any:
        """Decode and validate one line from a client.

        Raises :class:`FrameError` with code ``bad_frame`` (not UTF-8 JSON, not an object,
        missing or unknown ``t``, wrong field types, a number that is not finite), or the code
        of a rule its set declares (``invalid_state``: a ``state`` frame that breaks PROTOCOL.md
        1.1)."""
        try:
            frame = _guarded(self._client.decode, line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise self._classify(line, exc) from None
        check = self._checks.get(type(frame))
        if check is not None:
            problem = check(frame)
            if problem is not None:
                raise FrameError(problem[0], problem[1], getattr(frame, "id", None))
        bad = non_finite_field(frame)
        if bad is not None:
            raise FrameError(
                "bad_frame",
                f"{bad}: a number that is not finite (1e400 reads as infinity); send a finite one",
                getattr(frame, "id", None),
            )
        return frame

    def decode_server(self, line: bytes) -> Any:
        """Decode one line from the hub (client side). Raises :class:`FrameError`
        (``bad_frame``)."""
        try:
            return _guarded(self._server.decode, line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise FrameError("bad_frame", str(exc)) from None

    def _classify(self, line: bytes, exc: Exception) -> FrameError:
        try:
            env = _guarded(_envelope_decoder.decode, line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return FrameError("bad_frame", "expected one UTF-8 JSON object per line")
        except FrameError as problem:
            return problem
        re = env.id if _echoable(env.id) else None
        if env.t is None:
            return FrameError("bad_frame", 'missing "t"', re)
        if not isinstance(env.t, str) or env.t not in self.client_tags:
            return FrameError("bad_frame", f"unknown frame type {str(env.t)[:40]!r}", re)
        code = {"state": "invalid_state", "ticks": "invalid_ticks"}.get(env.t, "bad_frame")
        return FrameError(code, f"{env.t}: {exc}", re)


BUILTIN_CODEC = Codec(BUILTIN)  # every built-in service's frames (what a client speaks)
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
    """:meth:`Codec.decode_client` over the built-in frames."""
    return BUILTIN_CODEC.decode_client(line)


def decode_server_frame(line: bytes) -> ServerFrame:
    """:meth:`Codec.decode_server` over the built-in frames (what clients read)."""
    result: ServerFrame = BUILTIN_CODEC.decode_server(line)
    return result


def _guarded(decode: Callable[[bytes], T], line: bytes) -> T:
    """``decode(line)``, with the two failures msgspec reports outside its own errors turned
    into ``bad_frame``: deep nesting in a free-form field, and bad UTF-8 inside a string."""
    try:
        return decode(line)
    except RecursionError:
        raise FrameError("bad_frame", TOO_DEEP) from None
    except UnicodeDecodeError:
        raise FrameError("bad_frame", NOT_UTF8) from None


def _echoable(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**63) <= value < 2**63
    return isinstance(value, str) and len(value) <= 128


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
