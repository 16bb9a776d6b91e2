"""The article's SignalClient side: raw sockets on the 8081-style listener."""

from __future__ import annotations

import asyncio

from tests.conftest import HubFactory, article_state, logged_in, make_config
from tradewire.config import ArticleSignalSettings, ListenerSettings


async def read_messages(reader: asyncio.StreamReader, count: int) -> list[str]:
    messages: list[str] = []
    buffer = b""
    while len(messages) < count:
        buffer += await asyncio.wait_for(reader.read(4096), 5)
        *done, buffer = buffer.split(b">>")
        messages += [m.decode() + ">>" for m in done]
    assert buffer == b""
    return messages


async def test_article_client_gets_net_volumes_on_connect_and_on_change(
    start_hub: HubFactory,
) -> None:
    listeners = ListenerSettings(
        signal=ArticleSignalSettings(enabled=True, port=0, channel="alpha")
    )
    hub = await start_hub(make_config(listeners=listeners))
    provider = await logged_in(hub, "alice")
    frame = article_state()
    provider.send({**frame, "id": 1})
    await provider.recv()
    host, port = hub.addresses[1]
    reader, writer = await asyncio.open_connection(host, port)
    assert await read_messages(reader, 2) == ["<<EURUSD|-0.10>>", "<<GBPUSD|0.25>>"]
    frame["positions"] = frame["positions"][:1]  # EURUSD closed, GBPUSD sell closed
    provider.send({**frame, "id": 2})
    await provider.recv()
    assert await read_messages(reader, 2) == ["<<GBPUSD|0.35>>", "<<EURUSD|0.00>>"]
    frame["positions"] = []
    provider.send({**frame, "id": 3})
    await provider.recv()
    assert await read_messages(reader, 1) == ["<<GBPUSD|0.00>>"]
    writer.close()


async def test_addresses_off_the_allow_list_are_refused(start_hub: HubFactory) -> None:
    listeners = ListenerSettings(
        signal=ArticleSignalSettings(enabled=True, port=0, allow=["127.0.0.1/32"])
    )
    hub = await start_hub(make_config(listeners=listeners))
    host, port = hub.addresses[1]
    reader, writer = await asyncio.open_connection(host, port, local_addr=("127.0.0.2", 0))
    assert await asyncio.wait_for(reader.read(100), 5) == b""  # closed, nothing sent
    assert hub.article_signal is not None and hub.article_signal.refused == 1
    writer.close()
