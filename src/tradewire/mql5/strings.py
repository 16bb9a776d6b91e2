"""The two MQL5 string/array conversions every socket program uses, for line-by-line ports."""

from __future__ import annotations


def StringToCharArray(
    text: str, start: int = 0, count: int = -1, codepage: str = "utf-8"
) -> bytearray:
    """``text[start:start+count]`` encoded, with a terminating NUL as MQL5 adds one."""
    part = text[start:] if count < 0 else text[start : start + count]
    return bytearray(part.encode(codepage) + b"\0")


def CharArrayToString(
    array: bytes | bytearray, start: int = 0, count: int = -1, codepage: str = "utf-8"
) -> str:
    """Decode up to the first NUL (or ``count`` bytes); undecodable bytes become U+FFFD."""
    part = bytes(array[start:] if count < 0 else array[start : start + count])
    return part.split(b"\0", 1)[0].decode(codepage, errors="replace")
