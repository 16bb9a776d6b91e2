from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import state_frame
from tradewire.exceptions import FrameError
from tradewire.protocol.codec import decode_client_frame, decode_server_frame, encode, stamp
from tradewire.protocol.messages import (
    ERROR_CODES,
    Ack,
    Bye,
    Hello,
    Ping,
    Pong,
    PublishState,
    StateUpdate,
    Sub,
    Unsub,
    Welcome,
)


def line(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ({"t": "hello", "v": 1, "user": "a", "password": "p", "agent": "x", "id": 1}, Hello),
        ({"t": "ping", "id": "abc"}, Ping),
        ({"t": "pong", "re": 3}, Pong),
        ({"t": "sub", "id": 1, "ch": "alpha"}, Sub),
        ({"t": "unsub", "ch": "alpha"}, Unsub),
        (state_frame(), PublishState),
        ({"t": "bye"}, Bye),
        ({"t": "ping", "unknown_field": [1, 2]}, Ping),  # newer clients may add fields
    ],
)
def test_every_client_frame_decodes(frame: dict[str, Any], kind: type) -> None:
    assert isinstance(decode_client_frame(line(frame)), kind)


@pytest.mark.parametrize(
    ("raw", "code", "re"),
    [
        (b"\xff\xfe{}", "bad_frame", None),
        (b"not json", "bad_frame", None),
        (b"[1,2]", "bad_frame", None),
        (b'"text"', "bad_frame", None),
        (b'{"id":4}', "bad_frame", 4),
        (b'{"t":"launch","id":"x"}', "bad_frame", "x"),
        (b'{"t":7}', "bad_frame", None),
        (b'{"t":"sub","id":5}', "bad_frame", 5),
        (b'{"t":"hello","v":"one","user":"a","password":"b"}', "bad_frame", None),
        (b'{"t":"ping","id":123456789012345678901234567890}', "bad_frame", None),
        (b'{"t":"ping","id":NaN}', "bad_frame", None),
        (b'{"t":"state","id":2,"ch":"a"}', "invalid_state", 2),
    ],
)
def test_bad_frames_get_a_code_and_echo_the_id(raw: bytes, code: str, re: Any) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(raw)
    assert (caught.value.code, caught.value.re) == (code, re)
    assert caught.value.msg


INF = 424242.4242  # encoded, then replaced by 1e999 in the raw JSON (decodes to infinity)


def position(**override: Any) -> dict[str, Any]:
    return {**state_frame()["positions"][0], **override}


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"ch": "bad channel"}, "channel"),
        ({"ch": "x" * 65}, "channel"),
        ({"ch": "alpha\n"}, "channel"),
        ({"positions": [position(symbol="EUR USD")]}, "symbol"),
        ({"positions": [position(symbol="E\u0000")]}, "symbol"),
        ({"positions": [position(volume=0)]}, "volume"),
        ({"positions": [position(volume=-1)]}, "volume"),
        ({"positions": [position(volume=INF)]}, "volume"),
        ({"positions": [position(price=-0.5)]}, "price"),
        ({"positions": [position(sl=INF)]}, "sl"),
        ({"positions": [position(side="long")]}, "side"),
        ({"positions": [position(), position()]}, "unique"),
        ({"positions": [position(id=str(i)) for i in range(1001)]}, "1000"),
        (
            {
                "account": {**state_frame()["account"], "mode": "netting"},
                "positions": [position(id="1"), position(id="2")],
            },
            "netting",
        ),
        ({"account": {**state_frame()["account"], "balance": INF}}, "balance"),
    ],
)
def test_invalid_states_are_refused_with_the_rule_named(
    change: dict[str, Any], fragment: str
) -> None:
    frame = {**state_frame(), **change, "id": 9}
    with pytest.raises(FrameError) as caught:
        decode_client_frame(line(frame).replace(b"424242.4242", b"1e999"))
    assert caught.value.code == "invalid_state"
    assert caught.value.re == 9
    assert fragment in caught.value.msg


def test_hedging_allows_several_positions_per_symbol() -> None:
    frame = {**state_frame(positions=3)}
    assert len(decode_client_frame(line(frame)).positions) == 3  # type: ignore[union-attr]


def test_stamped_state_round_trips_through_the_server_decoder() -> None:
    published = decode_client_frame(line(state_frame()))
    assert isinstance(published, PublishState)
    update = decode_server_frame(encode(stamp(published, 42)))
    assert isinstance(update, StateUpdate)
    assert update.seq == 42 and update.positions == published.positions


def test_server_frames_encode_without_empty_optionals() -> None:
    assert encode(Ack(re=1, seq=3)) == b'{"t":"ack","re":1,"seq":3}\n'
    assert encode(Ack(re=1)) == b'{"t":"ack","re":1}\n'
    welcome = Welcome(v=1, server="s", session="x", heartbeat_s=15, roles=["follower"])
    assert decode_server_frame(encode(welcome)) == welcome


def test_error_codes_are_the_documented_ones() -> None:
    assert {
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
        "server_busy",
        "internal",
        "file_too_large",
        "channel_busy",
        "revoked",
        "unreachable",
        "timeout",
        "name_taken",
    } == ERROR_CODES


@given(st.binary(max_size=512))
def test_any_bytes_give_a_frame_or_a_documented_error(data: bytes) -> None:
    try:
        decode_client_frame(data)
    except FrameError as exc:
        assert exc.code in ERROR_CODES


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(
    st.sampled_from(
        [
            "hello",
            "ping",
            "pong",
            "sub",
            "unsub",
            "state",
            "bye",
            "zz",
            "ticks",
            "file_put",
            "file_get",
            "file_list",
        ]
    ),
    st.dictionaries(
        st.sampled_from(
            [
                "v",
                "user",
                "password",
                "id",
                "ch",
                "ts",
                "account",
                "positions",
                "re",
                "rows",
                "name",
                "data",
                "meta",
                "version",
                "ticks",
            ]
        ),
        json_values,
        max_size=6,
    ),
)
def test_any_json_object_gives_a_frame_or_a_documented_error(
    t: str, fields: dict[str, Any]
) -> None:
    try:
        raw = msgspec.json.encode({"t": t, **fields})
    except (OverflowError, msgspec.EncodeError):
        return
    try:
        decode_client_frame(raw)
    except FrameError as exc:
        assert exc.code in ERROR_CODES


@pytest.mark.parametrize(
    "line",
    [
        b'{"t":"state","ch":"a","account":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"t":"ticks","id":"b","rows":[' + b"[" * 30_000 + b"]" * 30_000 + b"]}",
        b'{"t":"ping","x":' + b'{"a":' * 30_000 + b"1" + b"}" * 30_000 + b"}",
    ],
)
def test_deep_nesting_is_a_bad_frame_not_a_recursion_error(line: bytes) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(line)
    assert caught.value.code in ("bad_frame", "invalid_state", "invalid_ticks")


@pytest.mark.parametrize(
    "line",
    [
        b'{"t":"state","ch":"al\xff\xfepha"}',
        b'{"t":"ping","id":"\xc3\x28"}',
        b'{"t":"hello","v":1,"user":"\xed\xa0\x80","password":"x"}',
        b'{"t":"\xff"}',
    ],
)
def test_invalid_utf8_is_a_bad_frame(line: bytes) -> None:
    with pytest.raises(FrameError) as caught:
        decode_client_frame(line)
    assert caught.value.code in ("bad_frame", "invalid_state")


def test_integers_beyond_64_bits_are_refused_not_stored() -> None:
    huge = 2**64
    frame = {**state_frame(), "ts": huge}
    with pytest.raises(FrameError) as caught:
        decode_client_frame(msgspec.json.encode(frame))
    assert caught.value.code == "invalid_state"
    with pytest.raises(FrameError):
        decode_client_frame(b'{"t":"file_get","name":"x","version":%d}' % huge)
