"""The pure parts of ``follow --accounts --workers``: which accounts each worker copies, the
arguments it is started with, and the status files merged into one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tradewire.cli.engine_workers import (
    child_argv,
    merge_statuses,
    parse_worker,
    shard,
    worker_status_path,
)
from tradewire.clients.accounts import load_accounts

ACCOUNTS = """
[[account]]
name = "a"
channel = "alpha"
broker = "paper:a.db"

[[account]]
name = "p"
broker = "paper:p.db?mode=hedging"
[[account.subscription]]
channel = "alpha"
rules = { magic = 11 }
[[account.subscription]]
channel = "beta"
rules = { magic = 12 }

[[account]]
name = "b"
channel = "beta"
broker = "paper:b.db"

[[account]]
name = "c"
channel = "alpha"
broker = "paper:c.db"
"""


def test_every_account_is_copied_by_one_worker_and_a_portfolio_stays_whole(
    tmp_path: Path,
) -> None:
    (tmp_path / "accounts.toml").write_text(ACCOUNTS)
    accounts = load_accounts(tmp_path / "accounts.toml")
    shards = [shard(accounts, i, 2) for i in range(2)]
    assert [[s.name for s in part] for part in shards] == [["a", "b"], ["p/alpha", "p/beta", "c"]]
    assert sorted(s.name for part in shards for s in part) == sorted(s.name for s in accounts)
    assert [len(shard(accounts, i, 4)) for i in range(4)] == [1, 2, 1, 1]


def test_a_worker_gets_the_same_command_without_the_password_or_workers() -> None:
    argv = ["--log-level", "warning", "follow", "--hub", "h:1", "--user", "u",
            "--password-stdin", "--accounts", "x.toml", "--workers", "3"]  # fmt: skip
    assert child_argv(argv, 1, 3) == [
        sys.executable, "-m", "tradewire", "--log-level", "warning", "follow", "--hub", "h:1",
        "--user", "u", "--accounts", "x.toml", "--worker", "1/3",
    ]  # fmt: skip
    assert "--workers=2" not in child_argv(["follow", "--workers=2"], 0, 2)


@pytest.mark.parametrize("bad", ["2/2", "x/2", "1", "-1/2"])
def test_a_bad_worker_index_is_one_line(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_worker(bad)
    assert "--worker" in capsys.readouterr().err
    assert parse_worker("1/2") == (1, 2)


def test_worker_status_files_sit_beside_the_engines() -> None:
    assert worker_status_path(Path("d/accounts.status.json"), 1) == Path(
        "d/accounts.w1.status.json"
    )


def test_statuses_merge_and_an_explanation_comes_from_the_worker_with_the_account() -> None:
    one = {"channels": ["alpha"], "states": 4, "accounts": [{"account": "a"}],
           "explained": {"asked_ms": 5, "error": "no account 'c'"}}  # fmt: skip
    two = {"channels": ["alpha", "beta"], "states": 5, "accounts": [{"account": "c"}]}
    merged = merge_statuses([one, two])
    assert merged["channels"] == ["alpha", "beta"] and merged["states"] == 5
    assert [r["account"] for r in merged["accounts"]] == ["a", "c"]
    assert "explained" not in merged  # the other worker has not answered yet
    two["explained"] = {"asked_ms": 5, "account": "c", "target": {}}
    assert merge_statuses([one, two])["explained"]["account"] == "c"
    two["explained"] = {"asked_ms": 5, "error": "no account 'c'"}
    assert merge_statuses([one, two])["explained"]["error"] == "no account 'c'"
