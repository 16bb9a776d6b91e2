"""The hypothesis half of the fuzzing (the atheris half is ``make fuzz``): every parser exposed
to untrusted bytes, fed mutations of valid inputs, raises only its documented errors."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzzing.harnesses import HARNESSES
from fuzzing.seeds import SEEDS


@st.composite
def mutated(draw: st.DrawFn, name: str) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS[name])))
    for _ in range(draw(st.integers(0, 8))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "splice"]))
        chunk = draw(
            st.binary(min_size=1, max_size=8)
            | st.sampled_from(
                [
                    b"\0",
                    b"\xff",
                    b"\xc3\x28",
                    b"NaN",
                    b"1e999",
                    b"-",
                    b"[[[[",
                    b'"',
                    b"\\u0000",
                    b"99999999999999999999999",
                    b"|",
                    b"<<",
                    b">>",
                    b"\t",
                    b"\n",
                ]
            )
        )
        if action == "insert":
            data[where:where] = chunk
        elif action == "delete":
            del data[where : where + len(chunk)]
        elif action == "replace":
            data[where : where + len(chunk)] = chunk
        else:
            other = draw(st.sampled_from(SEEDS[name]))
            data[where:] = other[draw(st.integers(0, len(other))) :]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_mutated_inputs_raise_only_documented_errors(name: str) -> None:
    @settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
    @given(st.one_of(mutated(name), st.binary(max_size=300)))
    def check(data: bytes) -> None:
        HARNESSES[name](data)

    check()
