"""Messages a new user meets (issue 27's list, tried as one would): each says what is wrong
and what to do, and shows brackets as text (rich markup would eat ``[mt5]``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rich.console import Console

from tests.system.test_copy_cli import TRADEWIRE
from tradewire.cli.sentiment import table
from tradewire.protocol.messages import SentimentRow


def tradewire(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEWIRE, *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip


def test_the_mt5_hint_keeps_its_extra_in_brackets(tmp_path: Path) -> None:
    done = tradewire("paper", "positions", "--broker", "mt5:", cwd=tmp_path)
    assert done.returncode == 1
    assert "pip install 'tradewire[mt5]' (docs/mt5.md)" in done.stderr, done.stderr


def test_user_add_with_nothing_on_stdin_says_so(tmp_path: Path) -> None:
    done = tradewire("user", "add", "w1", "--role", "worker", "--password-stdin", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("error: no password on stdin"), done.stderr
    made = tradewire("user", "add", "w1", "--role", "worker", cwd=tmp_path, stdin="long-enough\n")
    assert made.returncode == 0 and "no channel yet" not in made.stdout, made.stdout


def test_follow_help_names_every_kind_of_account(tmp_path: Path) -> None:
    shown = tradewire("follow", "--help", cwd=tmp_path).stdout
    assert all(scheme in shown for scheme in ("paper:", "mt5:", "terminal:")), shown


def test_sentiment_shows_no_price_for_a_side_nobody_holds() -> None:
    console = Console(record=True, width=120)
    row = SentimentRow("EURUSD", long_volume=1.0, long_price=1.08391, contributors=3)
    console.print(table([row]))
    text = console.export_text()
    assert "1.08391/-" in text and "1.08391/0" not in text
