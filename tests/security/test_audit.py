"""The audit log (issue 12, item 16): every refusal and every session end is in it, and
unauthenticated clients cannot grow it without bound."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.conftest import HubFactory, Raw, logged_in, state_frame
from tradewire.hub.server import Hub
from tradewire.store.db import ROUTINE_AUDIT_EVENTS


def events(hub: Hub) -> list[tuple[int, str, str | None, str | None, str | None]]:
    return hub.store.db.audit_log(10_000)


async def test_refused_requests_and_connections_and_session_ends_are_audited(
    start_hub: HubFactory,
) -> None:
    hub = await start_hub(max_connections_per_address=2)
    bob = await logged_in(hub, "bob")
    bob.send(state_frame(id=1))
    bob.send({"t": "sub", "id": 2, "ch": "beta"})
    bob.send({"t": "file_put", "name": "x", "data": base64.b64encode(b"x").decode(), "id": 3})
    for _ in range(3):
        assert (await bob.recv())["code"] == "forbidden"
    extra = await Raw.connect(hub)
    third = await Raw.connect(hub)  # the third from 127.0.0.1: over the per-address limit
    assert (await third.recv())["code"] == "rate_limited"
    extra.close()
    bob.send({"t": "bye"})
    assert await bob.closed()
    await asyncio.sleep(0.1)
    await hub.store.flush()
    log = events(hub)
    forbidden = [e for e in log if e[1] == "forbidden" and e[2] == "bob"]
    assert len(forbidden) == 3
    assert {"publish", "subscribe", "store files"} <= {
        w for e in forbidden for w in ("publish", "subscribe", "store files") if w in (e[4] or "")
    }
    assert any(e[1] == "refused" and e[4] == "per_address" for e in log)
    ends = [e for e in log if e[1] == "session_end" and e[2] == "bob"]
    assert len(ends) == 1 and "session=" in (ends[0][4] or "")


async def test_huge_failed_logins_cannot_grow_the_audit_log(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub()
    await hub.store.flush()

    def size() -> int:
        """The database file once the WAL is checkpointed into it (the WAL's own size
        depends on when SQLite checkpoints)."""
        hub.store.db.run(lambda conn: conn.execute("SELECT 1"))
        hub.store.db._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return (data_dir / "state.db").stat().st_size

    before = size()
    for batch in range(8):  # 400 logins with 64 KB names from 80 addresses
        raws = [
            await Raw.connect(hub, local_host=f"127.0.7.{batch * 10 + n // 5 + 1}")
            for n in range(50)
        ]
        replies = await asyncio.gather(
            *(raw.login(f"{batch}-{n}-" + "n" * 64_000, "guess") for n, raw in enumerate(raws))
        )
        assert {r["code"] for r in replies} <= {"auth_failed", "banned"}
        for raw in raws:
            raw.close()
    await hub.store.flush()
    grown = size() - before
    print(f"\n400 failed logins with 64 KB names grew state.db by {grown / 1024:.0f} KiB")
    assert grown < 256 * 1024  # it was 25 MB before names were cut
    longest = max(events(hub), key=lambda e: len(e[2] or ""))
    assert len(longest[2] or "") <= 64, longest[:2]


async def test_a_banned_address_hammering_cannot_rotate_the_evidence_out(
    start_hub: HubFactory, data_dir: Path
) -> None:
    """Issue 26, item 12: a banned address reconnecting as fast as it can wrote a `refused`
    row per attempt, and the row limit then rotated `login_failed` and `ban` out in minutes.
    Now a burst of identical refusals is one row plus its count, and over the limit routine
    rows go first."""
    hub = await start_hub()
    for n in range(5):  # the ban, and its evidence
        raw = await Raw.connect(hub, local_host="127.0.6.6")
        assert (await raw.login("bob", f"guess-{n}"))["code"] == "auth_failed"
        raw.close()
    attempts = 0
    for _ in range(20):  # 2,000 reconnects, 100 at a time
        raws = await asyncio.gather(*(Raw.connect(hub, local_host="127.0.6.6") for _ in range(100)))
        replies = await asyncio.gather(*(raw.login("bob", "x") for raw in raws))
        attempts += sum(1 for r in replies if r.get("code") == "banned")
        for raw in raws:
            raw.close()
    hub.store.end_bursts(everything=True)
    await hub.store.flush()
    log = events(hub)
    refused = [e for e in log if e[1] == "refused" and e[3] == "127.0.6.6"]
    print(f"\n{attempts} refused attempts of a banned address: {len(refused)} audit rows: "
          f"{[e[4] for e in refused]}")  # fmt: skip
    assert attempts >= 1900 and len(refused) <= 4
    assert (
        sum(int(e[4].split("(")[1].split()[0]) for e in refused if "more" in (e[4] or ""))
        + (sum(1 for e in refused if "more" not in (e[4] or "")))
        == attempts
    )  # every attempt counted: the first of each burst, and the rest as a count
    # Over the row limit, routine rows rotate out before the evidence.
    for n in range(3_000):
        hub.store.audit("login", "alice", f"127.1.{n // 250}.{n % 250}")
    await hub.store.flush()
    evidence = [e for e in events(hub) if e[1] not in ROUTINE_AUDIT_EVENTS]
    assert [e for e in evidence if e[1] == "login_failed"] and len(events(hub)) > 3_000
    await asyncio.to_thread(hub.store.db.run, hub.store.db.prune_op(10**13, 0, 10**13, 1_000))
    kept = events(hub)
    assert len(kept) == 1_000
    assert [e for e in kept if e[1] not in ROUTINE_AUDIT_EVENTS] == evidence  # all of it
