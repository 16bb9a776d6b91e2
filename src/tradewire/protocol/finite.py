"""The non-finite-number policy for free-form values (a relay body, a topic value, a job's task
or result): JSON cannot say NaN or infinity, but a number like ``1e400`` reads as infinity, and
one such value stored and sent on breaks every reader that re-encodes it (the dashboard's event
stream did). A frame carrying one is refused whole, naming the field.

Values travel as ``msgspec.Raw`` (forwarded as sent, never re-encoded), so the check is a scan:
only a value with a 3-digit exponent or a run of 300 digits can overflow, and only such a value
is decoded to be sure.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import msgspec

_SUSPECT = re.compile(rb"[eE][+-]?\d{3}|\d{300}")


def finite_json(raw: msgspec.Raw) -> bool:
    """True unless the JSON value ``raw`` holds a number that reads as infinity."""
    data = bytes(raw)
    if _SUSPECT.search(data) is None:
        return True
    try:  # the standard decoder reads an overflow as infinity, where msgspec's refuses it
        return _finite(json.loads(data))
    except ValueError:
        return True  # not JSON: refused elsewhere, or forwarded as the bytes it is


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def non_finite_field(frame: msgspec.Struct) -> str | None:
    """The first free-form field of ``frame`` holding a non-finite number, or None."""
    for name in frame.__struct_fields__:
        value = getattr(frame, name)
        if isinstance(value, msgspec.Raw):
            if not finite_json(value):
                return name
        elif isinstance(value, list) and value and isinstance(value[0], msgspec.Raw):
            for index, item in enumerate(value):
                if not finite_json(item):
                    return f"{name}[{index}]"
    return None
