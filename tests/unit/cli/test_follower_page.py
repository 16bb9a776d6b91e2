"""The follower page reads a journal's end only, however long it has grown, and filters it
(cli/follower_page.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tradewire.cli import follower_page
from tradewire.cli.follower_page import PAGE_ROWS, journal_rows


class Stub:
    """What journal_rows reads of a Follower: its journal's file."""

    def __init__(self, path: Path) -> None:
        self.journal = type("J", (), {"path": path, "recent": []})()


def rows(path: Path, **asked: str) -> list[dict[str, Any]]:
    return journal_rows(Stub(path), asked)  # type: ignore[arg-type]


def test_a_long_journal_is_read_from_its_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "f.jsonl"
    with path.open("w") as fh:
        for n in range(30_000):
            event = "fill" if n % 3 else "skip"
            fh.write(json.dumps({"time_ms": n, "event": event, "symbol": "EURUSD"}) + "\n")
    monkeypatch.setattr(follower_page, "TAIL_BYTES", 100_000)  # its last 1,600 lines or so
    skips = rows(path, event="skip")
    assert len(skips) == PAGE_ROWS and skips[0]["time_ms"] == 29_997
    assert all(r["event"] == "skip" for r in skips)
    assert rows(path, before_ms="29000")[0]["time_ms"] == 28_999
    assert rows(path, before_ms="1000") == []  # the start was never read
    assert rows(path, symbol="gbpusd") == []
