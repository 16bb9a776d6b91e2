"""What every frame shares, and how a service declares its frames: a :class:`FrameSet`.

A frame is an immutable ``msgspec.Struct`` tagged by ``"t"``. Unknown fields are ignored so
that newer clients can talk to this server. Each service's module in this package ends with
its ``FRAMES``; the codec (protocol/codec.py) builds its decoders from the sets it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = (1,)

# Correlation ids are echoed back as "re": keep them small enough to echo safely.
RequestId = (
    Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
    | Annotated[str, msgspec.Meta(max_length=128)]
    | None
)
Role = Literal["provider", "follower", "admin", "worker"]
ROLES: tuple[Role, ...] = ("provider", "follower", "admin", "worker")


class Frame(msgspec.Struct, frozen=True, tag_field="t", omit_defaults=True):
    """Base of all frames."""


# A rule a frame must keep beyond its types: None, or the wire code and what is wrong.
Check = Callable[[Any], tuple[str, str] | None]


@dataclass(frozen=True)
class FrameSet:
    """A service's frames: those clients send (``client``), those the hub sends
    (``server``), and the rules some of them keep beyond their field types (``checks``)."""

    name: str
    client: tuple[type[msgspec.Struct], ...] = ()
    server: tuple[type[msgspec.Struct], ...] = ()
    checks: Mapping[type[msgspec.Struct], Check] = field(default_factory=dict)


def tag(frame: type[msgspec.Struct]) -> str:
    """A frame type's ``"t"``; a type without a string tag on ``"t"`` is refused."""
    config = frame.__struct_config__
    if not isinstance(config.tag, str) or config.tag_field != "t":
        raise TypeError(f"{frame.__name__} needs tag_field='t' and a string tag")
    return config.tag
