"""The article's programs, ported to tradewire.mql5 (examples/article/), run as processes against
a real hub's article-compatible listeners."""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

from tests.conftest import HubFactory, article_state, logged_in, make_config
from tests.integration.test_ticks import port_of, wait_stored
from tradewire.broker_schemes import open_broker
from tradewire.config import (
    ArticleSignalSettings,
    ListenerSettings,
    TemplateListenerSettings,
    TickListenerSettings,
)
from tradewire.hub.article.signal import ArticleSignalListener
from tradewire.hub.article.template import TemplateListener
from tradewire.hub.article.udp_ticks import UdpTickListener
from tradewire.hub.server import Hub

EXAMPLES = Path(__file__).parents[2] / "examples" / "article"
LISTENERS = ListenerSettings(
    signal=ArticleSignalSettings(enabled=True, port=0, channel="alpha"),
    template=TemplateListenerSettings(enabled=True, port=0, name="chart"),
    udp_ticks=TickListenerSettings(enabled=True, port=0),
)


def mql5_config(tmp_path: Path) -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text('[mql5]\nallow = ["127.0.0.1"]\nfiles_dir = "Files"\n')
    return path


async def run_example(name: str, *args: str, timeout: float = 60) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / name),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(timeout):
        output, _ = await process.communicate()
    return int(process.returncode or 0), output.decode()


def listener_port(hub: Hub, kind: type) -> int:
    listener = hub.article_signal if kind is ArticleSignalListener else hub.template
    assert listener is not None and listener._server is not None
    return int(listener._server.sockets[0].getsockname()[1])


async def test_tpl_client_saves_the_served_template(start_hub: HubFactory, tmp_path: Path) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    template = "<chart>\r\nperiod_type=1\r\n</chart>\r\n".encode("utf-16-le")
    root = await logged_in(hub, "root")  # only an admin stores the served template
    root.send(
        {
            "t": "file_put",
            "name": "chart",
            "data": base64.b64encode(template).decode(),
            "meta": {"symbol": "GBPUSD", "period": 240},
            "id": 1,
        }
    )
    assert (await root.recv())["t"] == "ack"
    port = listener_port(hub, TemplateListener)
    code, output = await run_example(
        "tpl_client.py", "--config", str(mql5_config(tmp_path)), "--port", str(port)
    )
    assert code == 0, output
    assert "template for GBPUSD period 240" in output
    assert (tmp_path / "Files" / "templates" / "chart.tpl").read_bytes() == template


async def test_tpl_client_outside_the_allow_list_fails_cleanly(
    start_hub: HubFactory, tmp_path: Path
) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    port = listener_port(hub, TemplateListener)
    config = tmp_path / "terminal.toml"
    config.write_text('[mql5]\nallow = ["example.com"]\n')
    code, output = await run_example("tpl_client.py", "--config", str(config), "--port", str(port))
    assert code == 1 and "error 5272" in output
    assert hub.template is not None and hub.template.served == 0


async def test_signal_client_syncs_net_volumes(start_hub: HubFactory, tmp_path: Path) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    provider = await logged_in(hub, "alice")
    frame = article_state()
    provider.send({**frame, "id": 1})
    assert (await provider.recv())["t"] == "ack"
    account = tmp_path / "follower.db"
    client = asyncio.ensure_future(
        run_example(
            "signal_client.py",
            "--config",
            str(mql5_config(tmp_path)),
            "--port",
            str(listener_port(hub, ArticleSignalListener)),
            "--broker",
            f"paper:{account}",
            "--seconds",
            "6",
        )
    )
    await asyncio.sleep(3)  # the client syncs to the first signal
    frame["positions"] = frame["positions"][:1]  # EURUSD closed; GBPUSD now +0.35
    provider.send({**frame, "id": 2})
    assert (await provider.recv())["t"] == "ack"
    code, output = await client
    assert code == 0, output
    assert "synced GBPUSD from 0.00 to 0.25" in output
    assert "synced EURUSD from 0.00 to -0.10" in output
    assert "synced EURUSD from -0.10 to 0.00" in output
    assert "synced GBPUSD from 0.25 to 0.35" in output
    broker = await open_broker(f"paper:{account}?mode=netting")
    try:
        nets = {p.symbol: (p.side, p.volume) for p in await broker.positions()}
    finally:
        await broker.close()
    assert nets == {"GBPUSD": ("buy", 0.35)}


async def test_udp_tick_client_ticks_are_stored(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    port = port_of(hub, UdpTickListener)
    code, output = await run_example(
        "udp_tick_client.py", "--port", str(port), "--symbol", "USDJPY", "--ticks", "500"
    )
    assert code == 0, output
    rows = await wait_stored(data_dir, "USDJPY", 500)
    assert len(rows) == 500
    assert all(100 < row[2] < 200 and len(f"{row[2]:.3f}") >= 7 for row in rows)
    udp = next(c for c in hub.parts.ticks.listeners if c.name == "udp")
    assert (udp.received, udp.malformed) == (500, 0)
