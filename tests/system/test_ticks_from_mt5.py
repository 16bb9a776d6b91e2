"""`tradewire ticks send --from-mt5` against the documented FAKE MetaTrader5 package (tests/
brokers/fake_mt5.py), into a real hub process: the history is stored once, also when sent twice."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.brokers.fake_mt5 import FakeMetaTrader5
from tests.conftest import PASSWORD
from tests.security.hubproc import add_cli_user, hub_process
from tradewire.cli.main import cli
from tradewire.store.ticks import SqliteTickStore


def test_a_terminals_tick_history_is_imported_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeMetaTrader5()
    monkeypatch.setitem(sys.modules, "MetaTrader5", fake)
    monkeypatch.setenv("TRADEWIRE_PASSWORD", PASSWORD)
    add_cli_user(tmp_path / "data", "feeder", "provider")
    runner = CliRunner()
    with hub_process(tmp_path, "") as port:
        args = [
            "ticks", "send", "--to", f"127.0.0.1:{port}", "--user", "feeder",
            "--from-mt5", "EURUSD",
            "--from", "2024-01-02T10:00:00", "--until", "2024-01-02T10:05:00",
        ]  # fmt: skip
        for _ in range(2):
            done = runner.invoke(cli, args)
            assert done.exit_code == 0, done.output
            assert "sent 1,200" in done.output or "sent 1200" in done.output, done.output
        assert fake.initialized is None  # shut down after the import
        bad = runner.invoke(cli, [*args[:-4], "--from", "2024-01-02", "--until", "2024-01-01"])
        assert bad.exit_code != 0 and "later --until" in bad.output
        fake.broken = {"copy_ticks_range"}
        broken = runner.invoke(cli, args)
        assert broken.exit_code != 0 and "copy_ticks_range(EURUSD) failed" in broken.output
    store = SqliteTickStore(tmp_path / "data", readonly=True)
    try:
        rows = list(store.query("EURUSD", 0, 2**62))
    finally:
        store.close()
    assert len(rows) == 1200  # five minutes, a tick every 250 ms, stored once
    assert rows[0][1] == 1704189600000 and all(0 < r[2] < r[3] for r in rows)  # type: ignore[operator]
