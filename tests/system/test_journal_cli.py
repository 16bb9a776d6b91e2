"""`tradewire journal stats|plot` over journals written by the follower's Journal."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tradewire.cli.main import cli
from tradewire.clients.journal import Journal

DAY = 1_700_000_000_000  # 2023-11-14 UTC


def journal(path: Path) -> Path:
    j = Journal(path)
    for n in range(10):
        j.write("fill", DAY + n * 1000, symbol="EURUSD", latency_ms=n + 1, slippage_points=n - 2)
    j.write("fill", DAY + 86_400_000, symbol="XAUUSD", latency_ms=50, slippage_points=None)
    j.write("reject", DAY + 5000, symbol="EURUSD", reason="requote")
    j.write("skip", DAY + 6000, symbol="US30", reason="not in the include list")
    j.close()
    return path


def test_stats_by_symbol_day_and_as_json(tmp_path: Path) -> None:
    path = journal(tmp_path / "follow.jsonl")
    runner = CliRunner()
    done = runner.invoke(cli, ["journal", "stats", str(path), "--json"])
    assert done.exit_code == 0, done.output
    rows = {tuple(r["group"]): r for r in map(json.loads, done.output.splitlines())}
    eurusd = rows[("EURUSD",)]
    assert (eurusd["fill"], eurusd["reject"], eurusd["skip"]) == (10, 1, 0)
    assert (eurusd["latency_p50_ms"], eurusd["latency_p99_ms"]) == (5.0, 10.0)
    assert eurusd["slippage_mean_pts"] == 2.5 and rows[("US30",)]["skip"] == 1
    by_day = runner.invoke(cli, ["journal", "stats", str(path), "--by", "day", "--json"])
    days = [json.loads(line)["group"][0] for line in by_day.output.splitlines()]
    assert days == ["2023-11-14", "2023-11-15"]
    table = runner.invoke(cli, ["journal", "stats", str(path), "--by", "both"])
    assert table.exit_code == 0 and "XAUUSD" in table.output and "2023-11-15" in table.output


def test_plot_writes_a_png_and_bad_lines_are_named(tmp_path: Path) -> None:
    path = journal(tmp_path / "follow.jsonl")
    runner = CliRunner()
    out = tmp_path / "quality.png"
    done = runner.invoke(cli, ["journal", "plot", str(path), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"time_ms": 1, "event": "fill"}\nnot json\n')
    refused = runner.invoke(cli, ["journal", "stats", str(bad)])
    assert refused.exit_code != 0 and "bad.jsonl:2: not a journal line" in refused.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "no entry yet" in runner.invoke(cli, ["journal", "stats", str(empty)]).output
