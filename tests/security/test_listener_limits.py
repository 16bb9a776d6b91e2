"""Issue 26, finding 6: the web and article ports had no connection cap and no idle timeout
(300 idle and 300 slow-header connections untouched after 90 s; 19,990 from one address took
every file descriptor, so native logins failed). Each attack here runs concurrently against a
real hub, with small limits from ``[limits]`` so it stays fast."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.conftest import logged_in, make_config
from tradewire.config import (
    ArticleSignalSettings,
    LimitSettings,
    ListenerSettings,
    SentimentLimit,
    SentimentListenerSettings,
    SignalLimit,
    TcpTickListenerSettings,
    TickLimit,
    WebLimit,
    WebSettings,
    parse_config,
)
from tradewire.exceptions import ConfigError
from tradewire.hub.server import Hub

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def connect_many(port: int, count: int, source: str = "127.0.0.2") -> list[Conn]:
    return list(
        await asyncio.gather(
            *(
                asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
                for _ in range(count)
            )
        )
    )


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes | None:
    """Everything the hub wrote before closing, or None when it is still open after ``seconds``."""
    data = b""
    try:
        async with asyncio.timeout(seconds):
            while chunk := await reader.read(65536):
                data += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return data


def port_of(hub: Hub, scheme: str) -> int:
    line = next(x for x in hub.listening if x.startswith(scheme))
    return int(line.split("://")[1].split(" ")[0].rsplit(":", 1)[1])


async def refused_rows(hub: Hub) -> list[str]:
    await hub.store.flush()
    return [row[4] for row in await hub.store.audit_log(1000, "refused", None)]


async def test_web_port_caps_one_address_and_still_serves_the_others(data_dir: Path) -> None:
    limits = LimitSettings(web=WebLimit(max_connections_per_address=20, idle_timeout_s=30))
    hub = Hub(make_config(web=WebSettings(enabled=True, port=0), limits=limits), data_dir)
    await hub.start()
    try:
        port = port_of(hub, "http://")
        flood = await connect_many(port, 60)  # at once, from one address
        answers = await asyncio.gather(*(closed_within(r, 2.0) for r, _ in flood))
        refused = [a for a in answers if a is not None]
        assert len(refused) == 40 and all(a.startswith(b"HTTP/1.1 503 ") for a in refused)
        assert hub.parts.gates.by_name["web"].open == 20
        figures = hub.snapshot()
        assert figures["tradewire_listener_closed_total"][("web", "address_cap")] == 40
        assert figures["tradewire_listener_connections"][("web",)] == 20
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.3")
        ) as web:
            assert (await web.get(f"http://127.0.0.1:{port}/healthz")).text == "ok\n"
        rows = await refused_rows(hub)
        # 40 refusals in one burst: one row now (the count follows when the burst ends)
        assert rows.count("web: too many connections from this address (limit 20)") == 1
        for _, writer in flood:
            writer.close()
    finally:
        await hub.stop()


async def test_web_port_closes_idle_and_slow_header_connections(data_dir: Path) -> None:
    limits = LimitSettings(web=WebLimit(idle_timeout_s=1.0))
    hub = Hub(make_config(web=WebSettings(enabled=True, port=0), limits=limits), data_dir)
    await hub.start()
    try:
        port = port_of(hub, "http://")
        idle = await connect_many(port, 30)
        slow = await connect_many(port, 30, "127.0.0.4")

        async def trickle(writer: asyncio.StreamWriter) -> None:
            # a byte every 0.2 s: never idle by bytes, never done with its headers
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaa":
                if writer.is_closing():
                    return
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)

        trickling = [asyncio.create_task(trickle(w)) for _, w in slow]
        ends = await asyncio.gather(*(closed_within(r, 4.0) for r, _ in idle + slow))
        assert all(end is not None for end in ends), "a connection outlived the idle timeout"
        # closed by aiohttp's keep-alive clock (it runs from connect in aiohttp 3.14) or the
        # gate's, whichever comes first: both are set from limits.web.idle_timeout_s
        assert hub.parts.gates.by_name["web"].open == 0
        for task in trickling:
            task.cancel()
        # a connection that made its request in time is served, and kept alive between
        # requests only as long as the keep-alive timeout (the same figure)
        reader, writer = (await connect_many(port, 1))[0]
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = await closed_within(reader, 4.0)
        assert answer is not None and answer.startswith(b"HTTP/1.1 200") and b"ok\n" in answer
    finally:
        await hub.stop()


async def test_total_cap_across_addresses_and_native_logins_unaffected(data_dir: Path) -> None:
    limits = LimitSettings(web=WebLimit(max_connections=40, max_connections_per_address=64))
    hub = Hub(make_config(web=WebSettings(enabled=True, port=0), limits=limits), data_dir)
    await hub.start()
    try:
        port = port_of(hub, "http://")
        waves = await asyncio.gather(*(connect_many(port, 20, f"127.0.1.{n}") for n in range(1, 5)))
        flood = [conn for wave in waves for conn in wave]
        answers = await asyncio.gather(*(closed_within(r, 2.0) for r, _ in flood))
        assert sum(a is not None for a in answers) == 40
        assert hub.parts.gates.by_name["web"].open == 40
        assert "web: connection limit (40) reached" in await refused_rows(hub)
        alice = await logged_in(hub, "alice")  # the native port is another budget
        alice.close()
        for _, writer in flood:
            writer.close()
    finally:
        await hub.stop()


async def test_signal_listener_caps_per_address_and_keeps_silent_clients(data_dir: Path) -> None:
    listeners = ListenerSettings(
        signal=ArticleSignalSettings(enabled=True, port=0, allow=["127.0.0.0/8"])
    )
    limits = LimitSettings(signal=SignalLimit(max_connections_per_address=5))
    hub = Hub(make_config(listeners=listeners, limits=limits), data_dir)
    await hub.start()
    try:
        assert hub.parts.legacy is not None and hub.parts.legacy.article_signal is not None
        port = hub.parts.legacy.article_signal._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        flood = await connect_many(port, 12)
        answers = await asyncio.gather(*(closed_within(r, 1.5) for r, _ in flood))
        # its clients never send, so there is no idle timeout: five stay, seven are closed
        assert sum(a is None for a in answers) == 5
        other = await connect_many(port, 1, "127.0.0.5")
        assert await closed_within(other[0][0], 0.3) is None
        for _, writer in flood + other:
            writer.close()
    finally:
        await hub.stop()


@pytest.mark.parametrize("listener", ["sentiment", "tcp_ticks"])
async def test_article_ports_close_idle_connections(data_dir: Path, listener: str) -> None:
    listeners = ListenerSettings(
        sentiment=SentimentListenerSettings(enabled=True, port=0, allow=["127.0.0.0/8"]),
        tcp_ticks=TcpTickListenerSettings(enabled=True, port=0, allow=["127.0.0.0/8"]),
    )
    limits = LimitSettings(
        sentiment=SentimentLimit(idle_timeout_s=1.5, max_connections_per_address=10),
        tcp_ticks=TickLimit(idle_timeout_s=1.5, max_connections_per_address=10),
    )
    hub = Hub(make_config(listeners=listeners, limits=limits), data_dir)
    await hub.start()
    try:
        gate = hub.parts.gates.by_name[listener]
        scheme = "article sentiment" if listener == "sentiment" else "text ticks"
        line = next(x for x in hub.listening if scheme in x)
        port = int(line.split("://")[1].split(" ")[0].rsplit(":", 1)[1])
        flood = await connect_many(port, 25)
        talker = flood[0][1]
        line_out = b"<<EURUSD|0.10>>" if listener == "sentiment" else b"EURUSD,1.1,1.2,0\n"
        ends: list[bytes | None] = []

        async def keep_talking() -> None:
            for _ in range(20):
                talker.write(line_out)  # every 0.2 s: never idle
                await asyncio.sleep(0.2)

        talking = asyncio.create_task(keep_talking())
        ends = await asyncio.gather(*(closed_within(r, 4.0) for r, _ in flood[1:]))
        # 10 admitted, 15 refused at once; the 9 silent admitted ones closed after ~1.5 s
        assert all(end is not None for end in ends)
        assert gate.refused == 15 and gate.timed_out == 9
        assert not talker.is_closing() and gate.open == 1
        await talking
        talker.close()
    finally:
        await hub.stop()


def test_bad_limits_are_refused_with_the_key() -> None:
    with pytest.raises(ConfigError, match=r"limits\.web\.max_connections"):
        parse_config({"limits": {"web": {"max_connections": 0}}})
    with pytest.raises(ConfigError, match=r"limits\.signal"):
        parse_config({"limits": {"signal": {"idle_timeout": 5}}})
    config = parse_config({"limits": {"web": {"idle_timeout_s": 30}}})
    assert config.limits.web.idle_timeout_s == 30 and config.limits.web.max_connections == 1000
    assert config.limits.signal.idle_timeout_s == 0  # the table's own default for the signal port
