"""The Expert Advisors themselves run: TradewireProvider.mq5 and TradewireBridge.mq5, compiled
by g++ against the shim (tests/mql5/shim/: real sockets; the terminal's trade functions backed
by a SIMULATED terminal account, tests/mql5/account_server.py, a paper account), against a real
hub and a real ``tradewire follow --broker terminal:``.

Provider account -> provider EA -> hub -> ``tradewire follow`` -> bridge EA -> follower account:
market orders with their stops, a stop moved, a pending order placed and cancelled, and the
bridge killed with SIGKILL mid-order, then restarted: the order is not executed twice."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, add_user, make_config
from tests.mql5.account_server import AccountServer
from tests.mql5.sources import parse
from tests.mql5.test_client_shim import translate
from tests.needs import missing
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.hub.server import Hub
from tradewire.model import OrderRequest, PendingOrder

HERE = Path(__file__).parent
MQL5 = HERE.parents[1] / "mql5"
TRADEWIRE = str(Path(sys.executable).parent / "tradewire")

if shutil.which("g++") is None:
    missing("no g++ here: the EAs need a C++ compiler to run (`make test` installs it)")


def with_prototypes(code: str) -> str:
    """MQL5 calls functions defined further down a file; C++ needs them declared first. Each
    top-level function's signature goes after the includes, as a declaration."""
    root = parse(code.encode())
    raw = code.encode()
    declared = [
        raw[node.start_byte : node.child_by_field_name("body").start_byte].decode().strip() + ";"  # type: ignore[union-attr]
        for node in root.children
        if node.type == "function_definition"
    ]
    lines = code.splitlines()
    last_include = max(i for i, line in enumerate(lines) if line.startswith("#include"))
    return "\n".join([*lines[: last_include + 1], *declared, *lines[last_include + 1 :]])


def compile_ea(build: Path, expert: str, inputs: list[str]) -> Path:
    """``expert`` (a file in mql5/Experts/Tradewire) as a program: its inputs are read from
    TW_INPUT_<NAME> environment variables (``inputs`` names them), its account from TW_ACCOUNT."""
    build.mkdir()
    (build / "Tradewire").mkdir()
    for name in ("Client.mqh", "Json.mqh", "Account.mqh"):
        text = translate((MQL5 / "Include" / "Tradewire" / name).read_text())
        (build / "Tradewire" / name).write_text("#pragma once\n" + text)  # MQL5 includes once
    source = translate((MQL5 / "Experts" / "Tradewire" / expert).read_text())
    source = re.sub(r"^(\s*)s?input\s+", r"\1", source, flags=re.M)  # inputs: plain globals
    (build / "ea_source.hpp").write_text(with_prototypes(source))
    setters = "\n".join(
        f'  if (const char* v = getenv("TW_INPUT_{n}")) assign({n}, v);' for n in inputs
    )
    (build / "ea_inputs.hpp").write_text(
        "#define TIMER_MS 10\n"
        "inline void assign(string& to, const char* v) { to = string(v); }\n"
        "template <class T> void assign(T& to, const char* v) { to = (T)atol(v); }\n"
        f"inline void SetInputs() {{\n{setters}\n}}\n"
    )
    binary = build / "ea"
    done = subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Werror", "-Wno-unused-function", "-I", str(HERE / "shim"),
         "-I", str(build), "-o", str(binary), str(HERE / "shim" / "ea_driver.cpp")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return binary


@pytest.fixture(scope="module")
def eas(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    build = tmp_path_factory.mktemp("eas")
    common = ["HubHost", "HubPort", "User", "Password", "TimerMs"]
    return {
        "provider": compile_ea(build / "provider", "TradewireProvider.mq5", [*common, "Channel"]),
        "bridge": compile_ea(build / "bridge", "TradewireBridge.mq5", [*common, "Name"]),
    }


@dataclass
class Setup:
    hub: Hub
    address: str
    provider_account: PaperBroker
    follower_account: PaperBroker
    follower_server: AccountServer
    follower_server_address: str
    processes: dict[str, subprocess.Popen[bytes]]
    eas: dict[str, Path]
    tmp: Path

    def start_ea(self, kind: str, account: str, user: str, **inputs: str) -> None:
        host, port = self.address.split(":")
        given = {"HubHost": host, "HubPort": port, "User": user, "Password": PASSWORD, **inputs}
        env = {**os.environ, "TW_ACCOUNT": account}
        env.update({f"TW_INPUT_{k}": v for k, v in given.items()})
        log = (self.tmp / f"{kind}.log").open("ab")
        self.processes[kind] = subprocess.Popen(
            [str(self.eas[kind])], env=env, stdout=log, stderr=log
        )

    def start_follow(self) -> None:
        """A real ``tradewire follow`` onto the bridge EA's account, as ``fol``."""
        spec = f"terminal:term1?hub={self.address}&user=fol"
        self.processes["follow"] = subprocess.Popen(
            [TRADEWIRE, "follow", "--hub", self.address, "--user", "fol", "--channel", "alpha",
             "--broker", spec, "--journal", str(self.tmp / "follow.jsonl")],
            env={**os.environ, "TRADEWIRE_PASSWORD": PASSWORD}, cwd=self.tmp,
            stdout=(self.tmp / "follow.log").open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


@pytest.fixture(params=["hedging", "netting"])
async def setup(
    tmp_path: Path, eas: dict[str, Path], request: pytest.FixtureRequest
) -> AsyncIterator[Setup]:
    data = tmp_path / "data"
    add_user(data, "prov", "provider", ["alpha"])
    add_user(data, "fol", "follower", ["alpha", "relay:term1"])
    add_user(data, "term1", "follower")
    hub = Hub(make_config(), data)
    host, port = (await hub.start())[0]
    provider_account = await PaperBroker.open(tmp_path / "prov.db", PaperSettings(mode="hedging"))
    follower_account = await PaperBroker.open(
        tmp_path / "term.db", PaperSettings(mode=request.param)
    )
    provider_server, follower_server = (
        AccountServer(provider_account),
        AccountServer(follower_account),
    )
    provider_at, follower_at = await provider_server.start(), await follower_server.start()
    s = Setup(hub, f"{host}:{port}", provider_account, follower_account, follower_server,
              follower_at, {}, eas, tmp_path)  # fmt: skip
    s.start_ea("provider", provider_at, "prov", Channel="alpha")
    s.start_ea("bridge", follower_at, "term1", Name="term1")
    s.start_follow()
    try:
        yield s
    finally:
        for proc in s.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in s.processes.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        await provider_server.stop()
        await follower_server.stop()
        await provider_account.close()
        await follower_account.close()
        await hub.stop()


async def test_the_eas_copy_trades_stops_and_pending_orders_exactly_once(setup: Setup) -> None:
    prov, fol = setup.provider_account, setup.follower_account
    quote = await prov.quote("EURUSD")
    sl, tp = round(quote.bid - 0.0040, 5), round(quote.bid + 0.0060, 5)
    await prov.market_order(OrderRequest("EURUSD", "buy", 0.2, sl=sl, tp=tp))

    async def copied() -> bool:
        found = await fol.positions()
        return len(found) == 1 and (found[0].sl, found[0].tp) == (sl, tp)

    await until(copied, 30.0)  # the EAs compile and log in first
    (pos,) = await fol.positions()
    assert (pos.symbol, pos.side, pos.volume, pos.magic) == ("EURUSD", "buy", 0.2, 7_400_001)
    link = r"tw:p\d+:0\.2:0\.2" if (await fol.account()).mode == "hedging" else "tw"
    assert re.fullmatch(link + r"~[0-9a-z]{6}", pos.comment), pos.comment  # with its request id

    # The provider moves its stop: the bridge modifies the same position (TRADE_ACTION_SLTP).
    (source,) = await prov.positions()
    moved = round(sl + 0.0010, 5)
    await prov.modify_position(source.id, moved, tp)

    async def modified() -> bool:
        return [p.sl for p in await fol.positions()] == [moved]

    await until(modified)
    assert [p.id for p in await fol.positions()] == [pos.id]
    assert len(await fol.position_deals(pos.id)) == 1  # not closed and reopened

    # A pending order: placed through the bridge (TRADE_ACTION_PENDING), then removed.
    gbp = await prov.quote("GBPUSD")
    price = round(gbp.ask - 0.0050, 5)
    ticket = await prov.place_order(
        PendingOrder("", "GBPUSD", "buy_limit", 0.1, price, sl=round(price - 0.003, 5))
    )

    async def placed() -> bool:
        return [(o.type, o.price) for o in await fol.orders()] == [("buy_limit", price)]

    await until(placed)
    (mine,) = await fol.orders()
    assert mine.sl == round(price - 0.003, 5) and mine.magic == 7_400_001
    await prov.cancel_order(ticket)

    async def cancelled() -> bool:
        return await fol.orders() == []

    await until(cancelled)
    actions = [r.action for r in await fol.pending_history()]
    assert actions == ["place", "cancel"], actions

    # The bridge is killed (SIGKILL) after executing an order and before answering: the
    # follower asks again under the same request id, and the restarted bridge finds the deal.
    setup.follower_server.hold_next_deal_s = 5.0
    await prov.market_order(OrderRequest("USDJPY", "sell", 0.3))
    await asyncio.wait_for(setup.follower_server.deals_held.wait(), 15)
    bridge = setup.processes["bridge"]
    bridge.send_signal(signal.SIGKILL)
    bridge.wait(timeout=10)
    setup.start_ea("bridge", setup.follower_server_address, "term1", Name="term1")

    async def answered() -> bool:
        lines = (setup.tmp / "follow.jsonl").read_text().splitlines()
        entries = [json.loads(line) for line in lines]
        return any(e["event"] == "fill" and e["symbol"] == "USDJPY" for e in entries)

    await until(answered, 30.0)
    await asyncio.sleep(1.0)
    fills = [o for o in await fol.order_log() if o.symbol == "USDJPY" and o.status == "filled"]
    # executed before the kill, answered after the restart: by the bridge's duplicate check
    assert len(fills) == 1, fills
    assert "had executed order" in (setup.tmp / "follow.log").read_text()

    # The provider EA sent its deals (protocol 1.5) once each, after the states that show them:
    # closing EURUSD makes a trade of the paper ledger's profit, counted from deals. (The first
    # EURUSD deal may predate the EA's start under load: deals from before it are not sent.)
    await prov.market_order(OrderRequest("EURUSD", "sell", 0.2, source.id))
    store = setup.hub.parts.history_store
    expected = {d.ticket: d for d in await prov.deals_since(0)}
    close = next(d for d in expected.values() if d.entry == "out")
    yen = next(d for d in expected.values() if d.symbol == "USDJPY")

    async def deals_kept() -> bool:
        return close.ticket in {d.ticket for _, d in await store.deals("alpha")}

    await until(deals_kept)
    kept = {d.ticket: d for _, d in await store.deals("alpha")}
    assert yen.ticket in kept and kept.keys() <= expected.keys()
    closed = kept[close.ticket]
    assert closed.profit == pytest.approx(close.profit, abs=0.01)
    assert abs(closed.time - close.time) < 1000  # UTC, as the ledger's
    figures = await setup.hub.parts.history.figures("alpha")
    assert figures is not None and figures.trades_from == "deals" and figures.trades == 1
