"""The administrator's store (store/admin.py), as ``tradewire user`` and ``tradewire ban`` use
it: each change one audited transaction, refusals that change nothing, and a hub's ban lifted."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from tradewire.clock import SystemClock
from tradewire.exceptions import UserError
from tradewire.model import BanRecord
from tradewire.store.admin import open_admin_store
from tradewire.store.state import SqliteStateStore


def test_users_are_added_changed_and_deleted(tmp_path: Path) -> None:
    with closing(open_admin_store(tmp_path)) as store:
        store.add_user("alice", "h1", "provider", ["alpha"], 1_000, by="root")
        store.add_user("bob", "h2", "follower", [], 1_000)
        assert [u.name for u in store.list_users()] == ["alice", "bob"]
        bob = store.change_user("bob", 2_000, "user_grant", grant=["alpha", "beta"])
        assert bob.channels == ("alpha", "beta")
        bob = store.change_user("bob", 3_000, "user_revoke", revoke=["alpha"])
        assert bob.channels == ("beta",)
        assert store.change_user("bob", 4_000, "user_disable", disabled=True).disabled
        store.change_user("alice", 5_000, "user_passwd", password_hash="h3")
        alice = store.get_user("alice")
        assert alice is not None and alice.hash == "h3"
        store.delete_user("bob", 6_000)
        assert store.get_user("bob") is None
    with closing(open_admin_store(tmp_path)) as again:  # committed, not cached
        assert [u.name for u in again.list_users()] == ["alice"]


def test_refusals_change_nothing(tmp_path: Path) -> None:
    with closing(open_admin_store(tmp_path)) as store:
        store.add_user("alice", "h1", "provider", ["alpha"], 1_000)
        with pytest.raises(UserError):
            store.add_user("alice", "other", "admin", [], 2_000)
        with pytest.raises(UserError):
            store.add_user("carol", "h", "emperor", [], 2_000)
        with pytest.raises(UserError):
            store.change_user("nobody", 2_000, "user_grant", grant=["alpha"])
        with pytest.raises(UserError):
            store.delete_user("nobody", 2_000)
        alice = store.get_user("alice")
        assert alice is not None
        assert (alice.hash, alice.role, alice.channels) == ("h1", "provider", ("alpha",))
        assert [u.name for u in store.list_users()] == ["alice"]


async def test_a_ban_the_hub_made_is_lifted_once(tmp_path: Path) -> None:
    hub_store = await SqliteStateStore.open(tmp_path, SystemClock())
    far = 4_000_000_000_000
    hub_store.put_ban(BanRecord("203.0.113.9", far, 3))
    await hub_store.flush()
    hub_store.close()
    with closing(open_admin_store(tmp_path)) as store:
        assert store.load_bans() == [BanRecord("203.0.113.9", far, 3)]
        assert store.lift_ban("203.0.113.9", 1_000, by="root")
        assert not store.lift_ban("203.0.113.9", 2_000)  # nothing active any more
        assert not store.lift_ban("198.51.100.1", 2_000)  # never banned
        assert store.load_bans() == [BanRecord("203.0.113.9", 0, 3)]  # offenses kept
