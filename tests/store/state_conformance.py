"""The StateStore contract (tradewire.store.state), for every implementation: a new one runs
these with its own ``opened`` factory (a fresh, empty store) and ``add_user`` helper."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from tradewire.exceptions import StoreError, UserError
from tradewire.model import BanRecord, UserRecord
from tradewire.store.state import StateStore

Opened = Callable[[], Awaitable[StateStore]]
AddUser = Callable[[StateStore, str, str, list[str]], None]
DAY_MS = 86_400_000


def outcome() -> tuple[list[object], Callable[[object], None]]:
    got: list[object] = []
    return got, got.append


async def check_states_are_durable_and_the_latest_wins(opened: Opened, add_user: AddUser) -> None:
    store = await opened()
    got, done = outcome()
    store.put_state("alpha", 1, 1000, b'{"seq":1}\n', done)
    store.put_state("alpha", 2, 2000, b'{"seq":2}\n', done)
    store.put_state("beta", 1, 3000, b'{"beta":1}\n', done)
    await store.flush()
    assert len(got) == 3 and not any(isinstance(g, Exception) for g in got)
    states = {s.channel: (s.seq, s.frame) for s in await store.load_states()}
    assert states == {"alpha": (2, b'{"seq":2}\n'), "beta": (1, b'{"beta":1}\n')}
    store.close()


async def check_bans_reload_by_change_and_expire(opened: Opened, add_user: AddUser) -> None:
    store = await opened()
    now = 1_800_000_000_000
    store.put_ban(BanRecord("10.0.0.1", now + 600_000, 1))
    await store.flush()
    assert await store.load_bans() == [BanRecord("10.0.0.1", now + 600_000, 1)]
    assert await store.load_bans(changed_since_ms=2**62) == []
    got, done = outcome()
    store.prune(DAY_MS, 365 * DAY_MS, 1_000_000, done)
    await store.flush()
    assert got == [(0, 0)]  # an active ban is kept
    store.close()


async def check_the_audit_log_is_capped(opened: Opened, add_user: AddUser) -> None:
    store = await opened()
    for n in range(1500):
        store.audit("login_failed", f"u{n}", "10.0.0.9", None)
    got, done = outcome()
    store.prune(DAY_MS, 365 * DAY_MS, 1000, done)
    await store.flush()
    assert got == [(0, 500)]
    store.close()


async def check_the_audit_log_pages_and_filters_by_start(opened: Opened, add_user: AddUser) -> None:
    store = await opened()
    for n in range(5):
        store.audit("login_failed", f"u{n}", f"10.0.0.{n}", None)
    store.audit("login", "bob", "192.168.1.7", None)
    store.audit("kick", "root", "10.0.0.1", "user=bob")
    await store.flush()
    logins = await store.audit_page(10, event_prefix="login")
    assert [r[2] for r in logins] == ["login"] + ["login_failed"] * 5  # newest first
    assert [r[4] for r in await store.audit_page(10, address_prefix="10.0.0.1")] == [
        "10.0.0.1",
        "10.0.0.1",
    ]
    first = await store.audit_page(2, event_prefix="login_f")
    rest = await store.audit_page(10, event_prefix="login_f", before_id=first[-1][0])
    assert [r[3] for r in first + rest] == ["u4", "u3", "u2", "u1", "u0"]  # each once
    assert await store.audit_page(10, event_prefix="login", user="bob") == [logins[0]]
    store.close()


async def check_files_have_versions_and_owners(opened: Opened, add_user: AddUser) -> None:
    store = await opened()
    got, done = outcome()
    store.put_file("chart", b"v1", {"period": 60}, "alice", False, 2, done)
    store.put_file("chart", b"v2", {}, "alice", False, 2, done)
    store.put_file("chart", b"evil", {}, "mallory", False, 2, done)
    store.put_file("chart", b"v3", {}, "root", True, 2, done)
    await store.flush()
    assert [getattr(g, "version", None) for g in got[:2]] == [1, 2]
    assert isinstance(got[2], UserError) and "alice" in str(got[2])
    assert getattr(got[3], "version", None) == 3  # may_replace_any
    latest = await store.get_file("chart")
    assert latest is not None and latest.data == b"v3" and latest.version == 3
    assert await store.get_file("chart", 1) is None  # keep = 2 versions
    assert (older := await store.get_file("chart", 2)) is not None and older.data == b"v2"
    assert await store.get_file("nothing") is None
    assert [(f.name, f.version, f.size) for f in await store.list_files()] == [("chart", 3, 2)]
    store.close()


async def check_users_and_their_revision(opened: Opened, add_user: AddUser) -> None:
    store = await opened()
    before = await store.users_rev()
    add_user(store, "bob", "follower", ["alpha"])
    assert await store.users_rev() != before
    user = store.get_user("bob")
    assert user is not None and user.role == "follower" and user.channels == ("alpha",)
    users = await store.get_users(["bob", "nobody"])
    assert users == {"bob": user, "nobody": None}
    store.close()


async def check_a_user_synced_from_another_hub_replaces_or_deletes_it(
    opened: Opened, add_user: AddUser
) -> None:
    store = await opened()
    add_user(store, "bob", "follower", ["alpha", "beta"])
    bob = store.get_user("bob")
    assert bob is not None
    before = await store.users_rev()
    changed = UserRecord("bob", "$argon2id$other", "provider", ("gamma",), disabled=True)
    got, done = outcome()
    store.sync_user("bob", changed, "hub-b", done)
    store.sync_user("bob", changed, "hub-b", done)  # the same again: nothing to change
    carol = UserRecord("carol", "$argon2id$c", "follower", ())
    store.sync_user("carol", carol, "hub-b", done)
    await store.flush()
    assert got == [True, False, True]
    assert store.get_user("bob") == changed and store.get_user("carol") == carol
    assert await store.users_rev() != before
    assert [u.name for u in await store.list_users()] == ["bob", "carol"]
    store.sync_user("bob", None, "hub-b")
    await store.flush()
    assert store.get_user("bob") is None
    log = await store.audit_log(10, event="user_sync")
    assert [(row[2], row[4]) for row in log][:2] == [
        ("bob", "deleted by hub hub-b"),
        ("carol", "changed by hub hub-b"),
    ]
    store.close()


async def check_writes_after_close_are_refused_not_lost_silently(
    opened: Opened, add_user: AddUser
) -> None:
    store = await opened()
    store.close()
    got, done = outcome()
    store.put_state("alpha", 1, 1, b"x\n", done)
    await asyncio.sleep(0)
    assert len(got) == 1 and isinstance(got[0], StoreError)


CHECKS = [
    check_states_are_durable_and_the_latest_wins,
    check_bans_reload_by_change_and_expire,
    check_the_audit_log_is_capped,
    check_the_audit_log_pages_and_filters_by_start,
    check_files_have_versions_and_owners,
    check_users_and_their_revision,
    check_a_user_synced_from_another_hub_replaces_or_deletes_it,
    check_writes_after_close_are_refused_not_lost_silently,
]
