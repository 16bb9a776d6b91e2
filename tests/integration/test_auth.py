"""Logins, bans and the throttle against a real hub on 127.0.0.1."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import PASSWORD, HubFactory, Raw, make_config
from tradewire.config import BanSettings
from tradewire.store.db import StateDB


async def attempt(hub: object, user: str, password: str, local_host: str | None = None) -> dict:
    raw = await Raw.connect(hub, local_host=local_host)  # type: ignore[arg-type]
    try:
        reply = await raw.login(user, password, id=1)
        if reply["t"] != "welcome":
            assert await raw.closed()
        return reply
    finally:
        raw.close()


async def test_good_login_welcomes_with_roles(start_hub: HubFactory) -> None:
    hub = await start_hub()
    reply = await attempt(hub, "alice", PASSWORD)
    assert reply["t"] == "welcome" and reply["roles"] == ["provider"] and reply["re"] == 1
    assert reply["v"] == 1 and reply["heartbeat_s"] == 15 and len(reply["session"]) == 16


async def test_wrong_password_and_unknown_user_get_the_same_error(start_hub: HubFactory) -> None:
    hub = await start_hub()
    wrong = await attempt(hub, "alice", "not the password")
    unknown = await attempt(hub, "nobody", PASSWORD)
    assert (
        wrong
        == unknown
        == {"t": "error", "code": "auth_failed", "msg": "wrong user name or password", "re": 1}
    )


async def test_sixth_wrong_password_is_banned_and_the_ban_survives_restart(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub()
    for _ in range(5):
        assert (await attempt(hub, "alice", "guess"))["code"] == "auth_failed"
    # Banned right after accept: even the right password is not checked.
    raw = await Raw.connect(hub)
    banned = await raw.recv()
    assert banned["code"] == "banned" and 590 <= banned["retry_after_s"] <= 600
    assert await raw.closed()
    # A legitimate user from another address still logs in meanwhile.
    assert (await attempt(hub, "bob", PASSWORD, local_host="127.0.0.2"))["t"] == "welcome"
    await hub.stop()

    restarted = await start_hub()
    raw = await Raw.connect(restarted)
    assert (await raw.recv())["code"] == "banned"
    assert restarted.snapshot()["tradewire_refused_connections_total"][("banned",)] == 1
    db = StateDB(data_dir)
    events = [row[1] for row in db.audit_log()]
    db.close()
    assert events.count("login_failed") == 5 and "ban" in events and "login" in events


async def test_banned_address_costs_no_password_check(start_hub: HubFactory) -> None:
    hub = await start_hub()
    for _ in range(5):
        await attempt(hub, "alice", "guess")
    checks_before = hub.auth.throttle._failures.get("alice")
    assert checks_before is not None and len(checks_before) == 5
    for _ in range(20):
        raw = await Raw.connect(hub)
        assert (await raw.recv())["code"] == "banned"
        raw.close()
    assert len(hub.auth.throttle._failures["alice"]) == 5  # no further check was made


async def test_exempt_loopback_is_never_banned(start_hub: HubFactory) -> None:
    hub = await start_hub(make_config(ban=BanSettings(exempt=["127.0.0.0/8"])))
    for _ in range(7):
        assert (await attempt(hub, "alice", "guess"))["code"] == "auth_failed"
    assert (await attempt(hub, "alice", PASSWORD))["t"] == "welcome"


async def test_passwords_never_reach_the_audit_log(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub()
    await attempt(hub, "alice", "hunter2-secret")
    await attempt(hub, "alice", PASSWORD)
    await hub.store.flush()
    raw_bytes = b"".join(p.read_bytes() for p in data_dir.iterdir())
    assert b"hunter2-secret" not in raw_bytes and PASSWORD.encode() not in raw_bytes


async def test_unsupported_version(start_hub: HubFactory) -> None:
    hub = await start_hub()
    raw = await Raw.connect(hub)
    reply = await raw.login("alice", v=2)
    assert reply["code"] == "unsupported_version" and reply["supported"] == [1]
    assert await raw.closed()


async def test_too_many_pending_logins_answers_server_busy(start_hub: HubFactory) -> None:
    hub = await start_hub(max_pending_logins=2, auth_workers=1)
    raws = [await Raw.connect(hub) for _ in range(12)]
    for raw in raws:
        raw.send({"t": "hello", "v": 1, "user": "bob", "password": PASSWORD})
    replies = [await raw.recv() for raw in raws]
    kinds = [r.get("code", r["t"]) for r in replies]
    assert "server_busy" in kinds and "welcome" in kinds
    assert set(kinds) <= {"server_busy", "welcome"}
    # The hub is fine afterwards.
    assert (await attempt(hub, "bob", PASSWORD))["t"] == "welcome"


async def test_deleted_user_cannot_log_in_again(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub()
    db = StateDB(data_dir)
    db.delete_user("bob", 0)
    db.close()
    assert (await attempt(hub, "bob", PASSWORD))["code"] == "auth_failed"


async def test_frames_sent_with_hello_are_processed_after_welcome(start_hub: HubFactory) -> None:
    hub = await start_hub()
    raw = await Raw.connect(hub)
    raw.send(
        b'{"t":"hello","v":1,"user":"bob","password":"'
        + PASSWORD.encode()
        + b'"}\n{"t":"sub","id":2,"ch":"alpha"}\n{"t":"ping","id":3}\n'
    )
    assert (await raw.recv())["t"] == "welcome"
    assert await raw.recv() == {"t": "ack", "re": 2}
    assert (await raw.recv()).items() >= {"t": "pong", "re": 3}.items()
    await asyncio.sleep(0)
