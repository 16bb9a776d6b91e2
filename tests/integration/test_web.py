"""/metrics, /healthz and /readyz on a real hub: the Prometheus text is read back with
prometheus-client's own parser and its counters match what the test did."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Raw, grant, logged_in, make_config, state_frame
from tradewire.config import WebSettings
from tradewire.hub.server import Hub


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_metrics_count_what_happened_and_health_answers(data_dir: Path) -> None:
    hub = Hub(make_config(web=WebSettings(enabled=True, port=0)), data_dir)
    await hub.start()
    try:
        assert hub.web is not None
        host, port = hub.addresses[-1]
        assert any(line.startswith("http://") for line in hub.listening)
        alice = await logged_in(hub, "alice")
        for n in range(1, 4):
            alice.send(state_frame("alpha", n))
            assert (await alice.recv())["t"] == "ack"
        wrong = await Raw.connect(hub)
        assert (await wrong.login("bob", "not-the-password"))["code"] == "auth_failed"
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as web:
            metrics = await web.get("/metrics")
            assert metrics.status_code == 200 and metrics.headers["content-type"].startswith(
                "text/plain"
            )
            got = samples(metrics.text)
            assert got[("tradewire_states_total", ())] == 3
            assert got[("tradewire_frames_total", (("type", "state"),))] == 3
            assert got[("tradewire_logins_total", (("outcome", "failed"),))] == 1
            assert got[("tradewire_logins_total", (("outcome", "ok"),))] == 1
            assert got[("tradewire_sessions", (("role", "provider"),))] == 1
            assert got[("tradewire_publish_fanout_seconds_count", ())] == 3
            assert got[("tradewire_publish_fanout_seconds_bucket", (("le", "+Inf"),))] == 3
            assert got[("tradewire_writer_commits", (("writer", "writer"),))] >= 1  # state.db
            assert ("tradewire_writer_queue_depth", (("writer", "jobs"),)) in got
            assert (await web.get("/healthz")).text == "ok\n"
            ready = await web.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == dict.fromkeys(
                ("state_store", "tick_store", "job_store", "bus", "tasks"), "ok"
            )
            await asyncio.to_thread(hub.parts.job_store.stop)  # a store that no longer answers
            not_ready = await web.get("/readyz", timeout=10)
            assert not_ready.status_code == 503 and "no answer" in not_ready.json()["job_store"]
            assert (await web.get("/nope")).status_code == 404
    finally:
        hub.parts.job_store.stop = lambda: None  # type: ignore[method-assign]  # stopped above
        await hub.stop()


async def test_the_grafana_dashboard_uses_only_metrics_the_hub_exports(data_dir: Path) -> None:
    import json
    import re

    hub = Hub(make_config(web=WebSettings(enabled=True, port=0)), data_dir)
    await hub.start()
    try:
        host, port = hub.addresses[-1]
        async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as web:
            exported = {name for name, _ in samples((await web.get("/metrics")).text)}
    finally:
        await hub.stop()
    exported |= {f"{m.name}_bucket" for m in hub.metrics}  # histograms with no sample yet
    exported |= {m.name for m in hub.metrics}
    dashboard = json.loads(
        (Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text()
    )
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"tradewire_[a-z_]+", target["expr"])
    }
    assert used and used <= exported, used - exported


async def test_followers_report_their_copy_quality_for_the_dashboard(data_dir: Path) -> None:
    from tradewire.hub.dashboard_data import TickWatch, snapshot

    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        bob = await logged_in(hub, "bob")
        report = {"t": "follower_report", "ch": "alpha", "in_sync": True, "seq": 7, "fills": 3}
        bob.send({**report, "latency_p50_ms": 2.5, "latency_hist": [0, 2, 1], "id": 1})
        assert await bob.recv() == {"t": "ack", "re": 1}
        bob.send({**report, "ch": "beta", "id": 2})  # not a channel bob follows
        assert (await bob.recv())["code"] == "forbidden"
        bob.send({**report, "fills": -1, "id": 3})
        assert (await bob.recv())["code"] == "bad_frame"
        (row,) = snapshot(hub.parts, TickWatch())["followers"]
        assert (row["user"], row["ch"], row["fills"], row["latency_hist"]) == (
            "bob",
            "alpha",
            3,
            [0, 2, 1],
        )
        bob.close()
        await asyncio.sleep(0.1)
        assert snapshot(hub.parts, TickWatch())["followers"] == []  # gone with its session
    finally:
        await hub.stop()


async def test_a_copy_engine_reports_each_channel_and_is_held_to_a_quota(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25: an engine copying alpha and beta sends a report for each; the dashboard shows
    both rows and the audit log has no ``forbidden``. A session's channels are capped."""
    from tradewire.hub.dashboard_data import TickWatch, snapshot
    from tradewire.hub.services.reports import service as reports

    monkeypatch.setattr(reports, "MAX_CHANNELS_PER_SESSION", 2)
    grant(data_dir, "bob", "beta", "gamma")
    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        bob = await logged_in(hub, "bob")
        for number, channel in enumerate(["alpha", "beta", "alpha"], 1):
            bob.send(
                {
                    "t": "follower_report",
                    "ch": channel,
                    "in_sync": True,
                    "fills": number,
                    "id": number,
                }
            )
            assert await bob.recv() == {"t": "ack", "re": number}
        rows = snapshot(hub.parts, TickWatch())["followers"]
        assert [(r["ch"], r["fills"]) for r in rows] == [("alpha", 3), ("beta", 2)]
        halted = "carol/beta: halted: day equity drawdown 3%"
        bob.send({"t": "follower_report", "ch": "beta", "in_sync": True, "alert": halted})
        await asyncio.sleep(0.1)
        rows = snapshot(hub.parts, TickWatch())["followers"]
        assert [r["alert"] for r in rows] == ["", halted]
        bob.send(
            {"t": "follower_report", "ch": "beta", "in_sync": True, "alert": "x" * 301, "id": 7}
        )
        assert (await bob.recv())["code"] == "bad_frame"  # a report holds no essay
        rows = snapshot(hub.parts, TickWatch())["followers"]
        assert [r["alert"] for r in rows] == ["", halted]  # the last good one stays
        bob.send({"t": "follower_report", "ch": "gamma", "in_sync": True, "id": 9})
        refused = await bob.recv()
        assert refused["code"] == "quota_exceeded" and "2 channels" in refused["msg"]
        await hub.store.flush()
        audit = await hub.store.audit_log(50, user="bob")
        assert [row[1] for row in audit if row[1] in ("forbidden", "refused")] == ["refused"]
    finally:
        await hub.stop()
