"""Per-user budgets (protocol 1.3)."""

from __future__ import annotations

import msgspec

from tradewire.protocol.frames.base import Frame, FrameSet, RequestId


class BudgetRequest(Frame, frozen=True, tag="budget"):
    """What ``user`` (default: yourself; another user: admins only) holds of each per-user
    budget (answered with ``budget``; protocol 1.3)."""

    user: str | None = None
    id: RequestId = None


class BudgetRow(msgspec.Struct, frozen=True):
    budget: str  # e.g. "files"
    key: str  # the configuration key of its limit, e.g. "files.max_bytes_per_user"
    used: int
    limit: int | None  # None: not held to it (admins, for the quotas they are exempt from)
    unit: str  # "bytes", "topics", "jobs", "symbols"


class BudgetReply(Frame, frozen=True, tag="budget"):
    user: str
    rows: list[BudgetRow]
    re: RequestId = None


FRAMES = FrameSet(
    "budgets",
    client=(BudgetRequest,),
    server=(BudgetReply,),
)
