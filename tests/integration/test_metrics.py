"""The hub's metrics: what the status command, a dashboard and /metrics will read."""

from __future__ import annotations

from tests.conftest import HubFactory, Raw, logged_in, state_frame


async def test_the_hub_counts_what_operators_ask_for(start_hub: HubFactory) -> None:
    hub = await start_hub()
    sub = await logged_in(hub, "bob")
    sub.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert (await sub.recv())["t"] == "ack"
    pub = await logged_in(hub, "alice")
    pub.send(state_frame(id=2))
    assert (await pub.recv())["t"] == "ack"
    bad = await Raw.connect(hub)
    assert (await bad.login("bob", "wrong"))["code"] == "auth_failed"
    snap = hub.snapshot()
    assert snap["tradewire_frames_total"][("sub:ch",)] == 1
    assert snap["tradewire_frames_total"][("state",)] == 1
    assert snap["tradewire_states_total"] == {(): 1.0}
    assert snap["tradewire_state_deliveries_total"] == {(): 1.0}
    assert snap["tradewire_publish_fanout_seconds"]["count"] == 1
    assert snap["tradewire_logins_total"][("ok",)] == 2
    assert snap["tradewire_logins_total"][("failed",)] == 1
    assert snap["tradewire_sessions"] == {("follower",): 1.0, ("provider",): 1.0}
