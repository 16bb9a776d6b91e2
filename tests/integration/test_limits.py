"""Frame errors, timeouts, heartbeats, limits and shutdown against a real hub."""

from __future__ import annotations

import asyncio

from tests.conftest import HubFactory, Raw, logged_in, state_frame


async def test_frame_too_large_is_answered_then_closed(start_hub: HubFactory) -> None:
    hub = await start_hub(max_frame_bytes=4096)
    raw = await logged_in(hub, "alice")
    raw.send(b'{"t":"ping","pad":"' + b"x" * 5000)  # no newline needed to trip the bound
    assert (await raw.recv())["code"] == "frame_too_large"
    assert await raw.closed()


async def test_three_bad_frames_in_a_row_close(start_hub: HubFactory) -> None:
    hub = await start_hub()
    raw = await logged_in(hub, "bob")
    raw.send(b'nonsense\n{"t":"warp"}\n')
    assert (await raw.recv())["code"] == "bad_frame"
    assert (await raw.recv())["code"] == "bad_frame"
    raw.send({"t": "ping", "id": 1})  # a good frame resets the count
    assert (await raw.recv()).items() >= {"t": "pong", "re": 1}.items()
    raw.send(b"[1]\n\xff\n{}\n")
    for _ in range(3):
        assert (await raw.recv())["code"] == "bad_frame"
    assert (await raw.recv()) == {"t": "bye", "reason": "too many bad frames"}
    assert await raw.closed()


async def test_frames_before_hello_are_refused(start_hub: HubFactory) -> None:
    hub = await start_hub()
    raw = await Raw.connect(hub)
    raw.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert (await raw.recv())["code"] == "invalid_state"
    assert await raw.closed()


async def test_auth_timeout(start_hub: HubFactory) -> None:
    hub = await start_hub(auth_timeout_s=0.3)
    raw = await Raw.connect(hub)
    raw.send(b'{"t":"hel')  # a slow, never finished hello
    reply = await raw.recv(timeout=3)
    assert reply["code"] == "auth_timeout"
    assert await raw.closed()
    assert not hub.connections


async def test_idle_connection_is_pinged_then_closed(start_hub: HubFactory) -> None:
    hub = await start_hub(heartbeat_s=0.2)
    raw = await logged_in(hub, "bob")
    ping = await raw.recv(timeout=2)
    assert ping["t"] == "ping" and "id" in ping
    raw.send({"t": "pong", "re": ping["id"]})  # answering keeps it alive
    frames = []
    while True:
        frame = await raw.recv(timeout=3)
        frames.append(frame)
        if frame["t"] == "bye":
            break
    assert frames[-1] == {"t": "bye", "reason": "idle_timeout"}
    assert await raw.closed()


async def test_connection_limits(start_hub: HubFactory) -> None:
    hub = await start_hub(max_connections=3, max_connections_per_address=2)
    first = [await logged_in(hub, "bob") for _ in range(2)]
    refused = await Raw.connect(hub)
    assert (await refused.recv())["code"] == "rate_limited"
    assert await refused.closed()
    other = await logged_in(hub, "bob", local_host="127.0.0.3")
    busy = await Raw.connect(hub, local_host="127.0.0.4")
    assert (await busy.recv())["code"] == "server_busy"
    # Nothing already accepted was lost: the first sessions still work.
    for raw in [*first, other]:
        raw.send({"t": "ping", "id": 9})
        assert (await raw.recv()).items() >= {"t": "pong", "re": 9}.items()
    first[0].close()
    await asyncio.sleep(0.1)
    assert (await (await Raw.connect(hub)).login("bob"))["t"] == "welcome"


async def test_subscription_limit_refuses_the_extra_sub_only(start_hub: HubFactory) -> None:
    hub = await start_hub(max_subscriptions=1)
    root = await logged_in(hub, "root")
    root.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert await root.recv() == {"t": "ack", "re": 1}
    root.send({"t": "sub", "id": 2, "ch": "beta"})
    reply = await root.recv()
    assert reply["code"] == "rate_limited" and reply["re"] == 2
    provider = await logged_in(hub, "alice")
    provider.send({**state_frame(), "id": 1})
    await provider.recv()
    assert (await root.recv())["seq"] == 1  # the first subscription still delivers


async def test_shutdown_says_bye_to_everyone(start_hub: HubFactory) -> None:
    hub = await start_hub()
    clients = [await logged_in(hub, "bob") for _ in range(3)]
    pending = await Raw.connect(hub)
    await hub.stop()
    for raw in [*clients, pending]:
        assert await raw.recv() == {"t": "bye", "reason": "shutdown"}
        assert await raw.closed()
