"""The data directory fills up or turns read-only under a running hub: states, ticks and files
are refused with an error instead of an ack, nothing is corrupted, and the hub recovers by
itself when space (or write access) returns. The data directory is a small tmpfs mounted by the
test (needs root, as on the project's machines; otherwise skipped with the reason)."""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Raw, add_user, logged_in, make_config, state_frame
from tests.system.test_ticks_cli import TRADEWIRE
from tradewire.hub.server import Hub
from tradewire.store.ticks import SqliteTickStore


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs for the disk-full test: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(mount_point)], check=False)
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(directory: Path) -> Path:
    filler = directory / "filler"
    with filler.open("wb") as fh, contextlib.suppress(OSError):
        while True:
            fh.write(b"\0" * 65536)
            fh.flush()
    return filler


def ticks_frame(batch: str, n: int = 50) -> dict[str, object]:
    return {
        "t": "ticks",
        "id": batch,
        "rows": [["EURUSD", 1_700_000_000_000 + i, 1.1, 1.1001] for i in range(n)],
    }


async def answers(raw: Raw, frames: list[dict[str, object]]) -> list[dict[str, object]]:
    """The answers to ``frames``, in the order of the frames (the hub may answer out of order:
    states and ticks are stored by different writers)."""
    for frame in frames:
        raw.send(frame)
    by_id = {}
    for _ in frames:
        answer = await raw.recv()
        by_id[answer.get("re")] = answer
    return [by_id[frame["id"]] for frame in frames]


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


async def run_fault(data: Path, break_disk: object, heal: object) -> tuple[int, int]:
    add_user(data, "alice", "provider", ["alpha"])
    hub = Hub(make_config(), data)
    await hub.start()
    try:
        alice = await logged_in(hub, "alice")
        ok = await answers(alice, [{**state_frame(n=1), "id": 1}, ticks_frame("b1")])
        assert [a["t"] for a in ok] == ["ack", "ack"], ok
        last_seq = ok[0]["seq"]
        break_disk()  # type: ignore[operator]
        refused = await answers(
            alice,
            [
                {**state_frame(n=2, positions=50), "id": 2},
                ticks_frame("b2", 1000),
                {
                    "t": "file_put",
                    "name": "f",
                    "data": base64.b64encode(b"x" * 40000).decode(),
                    "id": 3,
                },
            ],
        )
        assert [a["t"] for a in refused] == ["error"] * 3, refused
        assert all(a["code"] == "internal" for a in refused), refused
        heal()  # type: ignore[operator]
        healed = await answers(alice, [{**state_frame(n=4), "id": 4}, ticks_frame("b4")])
        assert [a["t"] for a in healed] == ["ack", "ack"], healed
        assert healed[0]["seq"] > last_seq  # numbering goes on, no seq reused
        assert healed[1]["n"] == 50
        alice.close()
    finally:
        await hub.stop()
    for db in ("state.db", "ticks.db"):
        assert integrity(data / db) == "ok", db
    ticks = SqliteTickStore(data, readonly=True)
    stored_ticks = ticks.count()
    ticks.close()
    return int(healed[0]["seq"]), stored_ticks


async def test_disk_full_refuses_then_recovers(small_disk: Path) -> None:
    data = small_disk / "data"
    holder: list[Path] = []
    _, stored = await run_fault(
        data, lambda: holder.append(fill(small_disk)), lambda: holder[0].unlink()
    )
    assert stored == 100  # batches b1 and b4; nothing of the refused b2


def test_read_only_data_directory_is_a_clear_error_at_start(small_disk: Path) -> None:
    """A running hub's data directory cannot be remounted read-only (the kernel refuses while
    files are open for writing), so read-only is tried where it happens: at start, e.g. after
    the system remounted a failing disk."""
    data = small_disk / "data"
    add_user(data, "alice", "provider", ["alpha"])
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    refused = subprocess.run(
        [TRADEWIRE, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert refused.returncode != 0
    assert "read-only" in refused.stderr.lower() or "readonly" in refused.stderr.lower(), (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr
    subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)
    assert integrity(data / "state.db") == "ok"
