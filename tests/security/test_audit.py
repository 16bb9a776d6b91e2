"""The audit log (issue 12, item 16): every refusal and every session end is in it, and
unauthenticated clients cannot grow it without bound."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.conftest import HubFactory, Raw, logged_in, state_frame
from tradewire.hub.server import Hub


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
