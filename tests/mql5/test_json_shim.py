"""The EAs' JSON code (mql5/Include/Tradewire/Json.mqh) compiled by g++ against a minimal MQL5
string runtime (tests/mql5/shim/) and run on thousands of generated frames: it must read every
top-level field as Python's JSON decoder does, and write strings and numbers Python reads back.
MetaEditor cannot run here; this runs the shipped code itself."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.needs import missing

HERE = Path(__file__).parent
JSON_MQH = HERE.parents[1] / "mql5" / "Include" / "Tradewire" / "Json.mqh"

if shutil.which("g++") is None:
    missing("no g++ here: the Json.mqh check needs a C++ compiler (`make test` installs it)")


def hex16(text: str) -> str:
    return "".join(f"{ord(c):04x}" for c in text)


def unhex16(units: str) -> str:
    return "".join(chr(int(units[i : i + 4], 16)) for i in range(0, len(units), 4))


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("json-shim")
    # MQL5's #property lines mean nothing to C++; everything else compiles as written.
    source = "\n".join(
        line for line in JSON_MQH.read_text().splitlines() if not line.startswith("#property")
    )
    (build / "Json.mqh").write_text(source)
    binary = build / "json_driver"
    subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(HERE / "shim"), "-I", str(build),
         "-o", str(binary), str(HERE / "shim" / "json_driver.cpp")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return binary


def run(driver: Path, commands: list[str]) -> list[str]:
    done = subprocess.run(
        [str(driver)], input="\n".join(commands) + "\n", capture_output=True, text=True, check=True
    )
    return done.stdout.splitlines()


ALPHABET = 'abcXYZ019 _-"\\/\t\n\r\x01é€中{}[]:,'


def text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(7 if depth < 3 else 5)
    return [
        lambda: text(rng),
        lambda: rng.randint(-(2**53), 2**53),
        lambda: round(rng.uniform(-1e6, 1e6), rng.randint(0, 8)),
        lambda: rng.choice([True, False, None]),
        lambda: rng.choice(["", "0", "-0.5e-3"]),
        lambda: {text(rng) or "k": value(rng, depth + 1) for _ in range(rng.randint(0, 4))},
        lambda: [value(rng, depth + 1) for _ in range(rng.randint(0, 4))],
    ][kind]()


def test_every_top_level_field_reads_as_pythons_decoder_reads_it(driver: Path) -> None:
    rng = random.Random(20261125)
    commands, expected = [], []
    for _ in range(400):
        frame = {text(rng) or "t": value(rng) for _ in range(rng.randint(1, 6))}
        line = msgspec.json.encode(frame).decode()
        for key, field in frame.items():
            commands.append(f"RAW\t{hex16(key)}\t{hex16(line)}")
            expected.append(("raw", field))
            commands.append(f"GET\t{hex16(key)}\t{hex16(line)}")
            expected.append(("get", field))
        commands.append(f"GET\t{hex16('absent-key')}\t{hex16(line)}")
        expected.append(("absent", None))
    for answer, (kind, field) in zip(run(driver, commands), expected, strict=True):
        found, _, units = answer.partition("\t")
        if kind == "absent" or (kind == "get" and field is None):
            assert found == "0", (kind, field, answer)  # a null counts as absent
            continue
        assert found == "1", (kind, field)
        got = unhex16(units)
        if kind == "raw":
            assert msgspec.json.decode(got) == field, (field, got)
        elif isinstance(field, str):
            assert got == field  # unquoted, escapes resolved
        else:
            assert msgspec.json.decode(got) == field


def test_written_strings_and_numbers_read_back(driver: Path) -> None:
    rng = random.Random(7)
    texts = [text(rng) for _ in range(300)] + ["", '"', "\\", "\x00\x1f", "line\nbreak"]
    numbers = [(rng.uniform(-1e5, 1e5), rng.randint(0, 8)) for _ in range(300)]
    numbers += [(0.0, 2), (-0.0, 2), (1.1, 5), (2.0, 8), (100.0, 0), (-0.004, 2)]
    commands = [f"STR\t{hex16(t)}" for t in texts] + [f"NUM\t{v!r}\t{d}" for v, d in numbers]
    answers = [unhex16(a) for a in run(driver, commands)]
    for original, written in zip(texts, answers[: len(texts)], strict=True):
        assert msgspec.json.decode(written) == original, (original, written)
    for (number, digits), written in zip(numbers, answers[len(texts) :], strict=True):
        assert float(msgspec.json.decode(written)) == pytest.approx(
            round(number, digits), abs=10**-digits
        )
        assert written != "-0" and not written.endswith(".") and "e" not in written
