"""The transcripts in docs/mt5.md, replayed against a real hub: what each EA sends and expects
is what the hub does, the bridge bodies are what the Python side reads, and every key an EA
sends is written in that EA's sources."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.conftest import PASSWORD, Raw, add_user, make_config
from tests.mql5.sources import ROOT
from tradewire.hub.server import Hub
from tradewire.protocol.bridge import answer_decoder, op_decoder

DOC = Path(__file__).resolve().parents[2] / "docs" / "mt5.md"
BLOCK = re.compile(r"```transcript (\S+) (\S+)\n(.*?)```", re.DOTALL)
LINE = re.compile(r"^(\w+)([<>]) (.*)$")
Transcript = tuple[str, str, list[tuple[str, str, str]]]


def transcripts() -> list[Transcript]:
    found = []
    for ea, party, body in BLOCK.findall(DOC.read_text()):
        lines = []
        for text in body.strip().splitlines():
            match = LINE.match(text)
            assert match, f"not a transcript line: {text}"
            lines.append((match.group(1), match.group(2), match.group(3)))
        found.append((ea, party, lines))
    return found


def matches(expected: Any, actual: Any, captured: dict[str, Any], where: str) -> None:
    if expected == "*":
        return
    if isinstance(expected, str) and expected.startswith("$"):
        name = expected[1:]
        if name in captured:
            assert actual == captured[name], f"{where}: {name} was {captured[name]!r}"
        else:
            captured[name] = actual
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and expected.keys() == actual.keys(), (where, actual)
        for key, value in expected.items():
            matches(value, actual[key], captured, f"{where}.{key}")
        return
    if isinstance(expected, list):
        assert isinstance(actual, list) and len(expected) == len(actual), (where, actual)
        for n, (e, a) in enumerate(zip(expected, actual, strict=True)):
            matches(e, a, captured, f"{where}[{n}]")
        return
    assert expected == actual, (where, expected, actual)


def substitute(text: str, captured: dict[str, Any]) -> bytes:
    def value(match: re.Match[str]) -> str:
        return msgspec.json.encode(captured[match.group(1)]).decode()

    return re.sub(r'"\$(\w+)"', value, text).encode() + b"\n"


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def ea_source(ea: str) -> str:
    includes = "".join(p.read_text() for p in (ROOT / "Include").rglob("*.mqh"))
    return (ROOT / "Experts" / "Tradewire" / ea).read_text() + includes


@pytest.mark.parametrize("transcript", transcripts(), ids=lambda t: t[0])
async def test_a_transcript_replays_against_a_real_hub(
    transcript: Transcript, tmp_path: Path
) -> None:
    ea, ea_party, lines = transcript
    data = tmp_path / "data"
    add_user(data, "alice", "provider", ["alpha"])
    add_user(data, "bob", "follower", ["alpha", "relay:term1"])
    add_user(data, "term1", "follower")
    hub = Hub(make_config(heartbeat_s=0.5 if ea == "TradewireProvider.mq5" else 15.0), data)
    await hub.start()
    parties: dict[str, Raw] = {}
    captured: dict[str, Any] = {"PASSWORD": PASSWORD, "NOW": int(time.time() * 1000)}
    source = ea_source(ea)
    try:
        for n, (party, direction, text) in enumerate(lines, 1):
            where = f"{ea} line {n} ({party}{direction})"
            frame = msgspec.json.decode(substitute(text, captured) if direction == ">" else text)
            if party not in parties:
                parties[party] = await Raw.connect(hub)
            if direction == ">":
                parties[party].send(substitute(text, captured))
                if party == ea_party:  # the EA must be able to write every key it sends
                    for key in keys(frame) | {frame["t"]}:
                        assert f'\\"{key}\\"' in source, f"{where}: {key!r} not in {ea}'s sources"
            else:
                matches(frame, await parties[party].recv(timeout=5), captured, where)
            body = frame.get("body")
            if ea == "TradewireBridge.mq5" and body is not None:
                if frame["t"] in ("relay", "relay_in"):
                    op_decoder.decode(msgspec.json.encode(body))  # the bridge protocol's op
                else:
                    answer_decoder.decode(msgspec.json.encode(body))
    finally:
        for raw in parties.values():
            raw.close()
        await hub.stop()


def test_every_ea_has_a_transcript() -> None:
    documented = {ea for ea, _, _ in transcripts()}
    assert documented == {p.name for p in (ROOT / "Experts" / "Tradewire").glob("*.mq5")}
