"""The state database's security-relevant behaviour: private modes, revisions, bans that reload
cheaply and are pruned, audit rotation, the one-hub lock."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tradewire.exceptions import StoreError, UserError
from tradewire.model import BanRecord
from tradewire.store.db import StateDB
from tradewire.store.private import DataLock, loose_modes

DAY_MS = 86_400_000


def test_the_data_directory_and_databases_are_private(tmp_path: Path) -> None:
    db = StateDB(tmp_path / "data")
    db.add_user("a", "hash", "provider", ["alpha"], 1)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "data").iterdir()}
    db.close()
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert modes and set(modes.values()) == {0o600}, modes  # state.db, -wal and -shm
    assert loose_modes(tmp_path / "data") == []
    os.chmod(tmp_path / "data" / "state.db", 0o644)
    (warning,) = loose_modes(tmp_path / "data")
    assert "state.db is mode 644" in warning and "chmod 600" in warning


def test_every_user_or_grant_change_bumps_the_revision(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    seen = [db.users_rev()]
    db.add_user("a", "h", "follower", ["alpha"], 1)
    seen.append(db.users_rev())
    db.change_user("a", 2, "user_revoke", revoke=["alpha"], by="ops")
    seen.append(db.users_rev())
    db.change_user("a", 3, "user_disable", disabled=True)
    seen.append(db.users_rev())
    with pytest.raises(UserError, match="nothing to change"):
        db.change_user("a", 4, "user_disable", disabled=True)
    assert seen == sorted(set(seen)), seen  # strictly increasing
    assert db.get_user("a") is not None and db.get_user("a").disabled  # type: ignore[union-attr]
    assert db.audit_log(1)[0][1:] == ("user_disable", "a", None, None)
    assert db.audit_log(2)[1][4] == "revoke=alpha by=ops"  # the acting admin
    db.close()


def test_ban_reload_reads_only_changed_rows_and_pruning_drops_expired(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    now = 1_800_000_000_000
    expired = [
        (f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", now - 2 * DAY_MS, 1, now - 3 * DAY_MS)
        for n in range(200_000)
    ]
    db.run(lambda conn: conn.executemany("INSERT INTO bans VALUES (?,?,?,?)", expired))
    db.run(StateDB.put_ban_op(BanRecord("10.9.9.9", now + 600_000, 1), now))
    assert db.load_bans(now - 5000) == [BanRecord("10.9.9.9", now + 600_000, 1)]
    assert db.lift_ban("10.9.9.9", now + 1)
    assert not db.lift_ban("10.9.9.9", now + 2)  # nothing to lift: nothing written
    events = [row[1] for row in db.audit_log(10)]
    assert events.count("ban_lift") == 1
    assert db.load_bans(now) == [BanRecord("10.9.9.9", 0, 1)]
    bans, _ = db.run(StateDB.prune_op(now, DAY_MS, 365 * DAY_MS, 1_000_000))
    assert bans == 200_000
    assert len(db.load_bans()) == 1
    db.close()


def test_audit_rows_are_capped_by_count_and_age(tmp_path: Path) -> None:
    db = StateDB(tmp_path)
    now = 1_800_000_000_000
    db.run(
        lambda conn: conn.executemany(
            "INSERT INTO audit (ts_ms, event) VALUES (?, 'login_failed')",
            [(now - (3000 - n) * 1000,) for n in range(3000)],
        )
    )
    _, audit = db.run(StateDB.prune_op(now, DAY_MS, 365 * DAY_MS, 1000))
    assert audit == 2000 and len(db.audit_log(5000)) == 1000
    _, audit = db.run(StateDB.prune_op(now, DAY_MS, 500_000, 1000))  # rows older than 500 s
    assert audit == 500
    db.close()


def test_a_second_hub_cannot_lock_the_same_data_directory(tmp_path: Path) -> None:
    first, second = DataLock(tmp_path), DataLock(tmp_path)
    first.acquire()
    with pytest.raises(StoreError, match=f"another hub \\(pid {os.getpid()}\\)"):
        second.acquire()
    first.release()
    second.acquire()  # free again once the first hub is gone
    second.release()
