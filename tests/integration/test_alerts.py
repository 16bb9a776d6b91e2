"""Operator alerts (clients/alerts.py) through apprise to a real JSON webhook on 127.0.0.1: a
follower that stops tells a person, the same alert is sent once per ten minutes, a dead target
is logged and never stops the copying, a URL apprise does not know is refused at start."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.mql5.conftest import Http, http_server  # noqa: F401  (the webhook fixture)
from tests.system.test_copy_cli import TRADEWIRE
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.alerts import REPEAT_S, Alerts
from tradewire.clients.follower import Follower
from tradewire.clients.follower_report import report
from tradewire.clients.journal import Journal
from tradewire.clock import ManualClock
from tradewire.copy import CopyRules
from tradewire.exceptions import ConfigError
from tradewire.model import Position
from tradewire.protocol.messages import Account, StateUpdate


def hooks(server: Http) -> list[dict[str, str]]:
    return [json.loads(r["body"]) for r in server.requests if r["path"].startswith("/hook")]


async def test_a_follower_that_stops_alerts_a_person(
    tmp_path: Path,
    http_server: Http,  # noqa: F811
) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(balance=10_000))
    alerts = Alerts([http_server.base.replace("http", "json") + "/hook"])
    follower = Follower(broker, "alpha", CopyRules(stop_equity=20_000), journal=Journal())
    follower.journal.listener = alerts.listener("bob/alpha")
    provider = Account("p", "USD", 10_000, 10_000, 100, "hedging")
    position = Position("1", "EURUSD", "buy", 0.1, 1.085, 1)
    follower.on_state(StateUpdate("alpha", 1, int(time.time() * 1000), provider, [position]))
    await asyncio.wait_for(follower.run(), 10)  # returns once stopped
    await alerts.aclose()
    (sent,) = hooks(http_server)
    assert sent["title"] == "tradewire bob/alpha: copying stopped"
    assert "stop_equity reached" in sent["message"]
    assert report(follower).alert == "stopped: stop_equity reached"  # and on the dashboard
    await broker.close()


async def test_the_same_alert_is_sent_once_per_repeat_window(
    http_server: Http,  # noqa: F811
) -> None:
    clock = ManualClock()
    alerts = Alerts([http_server.base.replace("http", "json") + "/hook"], clock)
    journal = Journal()
    journal.listener = alerts.listener("carol/beta")
    for _ in range(5):  # a refused stop modification, retried every few seconds
        journal.write("alert", 1, symbol="EURUSD", reason="invalid_stops")
        clock.advance(5)
    journal.write("fill", 2, symbol="EURUSD")  # not an alert
    journal.write("breaker", 3, key="EURUSD", reason="orders turned back")
    clock.advance(REPEAT_S)
    journal.write("alert", 4, symbol="EURUSD", reason="invalid_stops")
    await alerts.aclose()
    # sent on threads side by side: they may arrive in any order
    assert sorted((h["title"], h["message"]) for h in hooks(http_server)) == [
        ("tradewire carol/beta: a stop could not be set", "EURUSD: invalid_stops"),
        ("tradewire carol/beta: a stop could not be set", "EURUSD: invalid_stops"),
        ("tradewire carol/beta: runaway breaker tripped", "EURUSD: orders turned back"),
    ]
    assert (alerts.sent, alerts.failed) == (3, 0)


async def test_a_dead_target_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    alerts = Alerts(["json://127.0.0.1:1/hook"])  # nothing listens on port 1
    journal = Journal()
    journal.listener = alerts.listener("bob/alpha")
    journal.write("halt", 1, reason="day equity drawdown 3% reached")
    await alerts.aclose()
    assert (alerts.sent, alerts.failed) == (0, 1)
    assert "reached no target" in caplog.text


def test_a_url_apprise_does_not_know_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apprise does not understand"):
        Alerts(["no-scheme"])
    done = subprocess.run(
        [TRADEWIRE, "follow", "--hub", "127.0.0.1:1", "--user", "bob", "--channel", "alpha",
         "--broker", "paper:f.db", "--alert", "no-scheme"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        "error: --alert 'no-scheme': apprise does not understand it (for example ntfy://TOPIC, "
        "tgram://TOKEN/CHAT, mailto://USER:PASS@HOST, json://HOST:PORT/PATH)"
    )


async def test_remembered_alerts_are_forgotten_after_the_repeat_window(
    http_server: Http,  # noqa: F811
) -> None:
    """Reasons carry figures, so texts rarely repeat: the memory of sent alerts stays bounded."""
    clock = ManualClock()
    alerts = Alerts([http_server.base.replace("http", "json") + "/hook"], clock)
    for n in range(50):
        alerts.send("tradewire bob/alpha: risk limit halted copying", f"down {n}.0%")
        clock.advance(REPEAT_S / 10)
    await alerts.aclose()
    assert len(alerts._last) <= 11 and alerts.sent == 50
